package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// A requirement's coverage is kept with it: every change that can move it — a rating, the
// requirement itself, a person moving or leaving — evaluates the requirements it touches again
// in its own transaction (evaluateCoverage, measured in SQL), and the coverage events fire when a
// requirement's state (gap, key person) changes, once per change. The reads (GetTeamCoverage,
// the requirements) return the coverage so kept: a read of every team's costs what it returns,
// whatever the number of people and ratings (BENCHMARKS.md).

var requirementMask = fieldmask.FromDescriptor((&talentv1.SkillRequirement{}).ProtoReflect().Descriptor(), "name", "etag")

// requirementID returns the team and skill IDs of a requirement's name.
func requirementID(name, field string) (team, skill string, err error) {
	if !domain.SkillRequirementPattern.Scan(name, &team, &skill) {
		return "", "", domain.SkillRequirementPattern.Invalid(field)
	}
	return team, skill, nil
}

// CreateSkillRequirement implements talentv1.TalentServiceServer.
func (s *Server) CreateSkillRequirement(ctx context.Context, req *talentv1.CreateSkillRequirementRequest) (*talentv1.SkillRequirement, error) {
	in := req.GetSkillRequirement()
	teamID := idOf(domain.TeamPattern, req.GetParent())
	r, err := domain.NewSkillRequirement(teamID, idOf(domain.SkillPattern, in.GetSkill()), in.GetMinProficiency(), in.GetRequiredPeople(), s.now())
	if err != nil {
		return nil, fault.Prefix("skill_requirement", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateSkillRequirement_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.SkillRequirement, error) {
		if _, err := tx.GetTeam(ctx, teamID); err != nil {
			return nil, fault.Named(err, req.GetParent())
		}
		if err := tx.InsertSkillRequirement(ctx, r); err != nil {
			return nil, err
		}
		pb := requirementToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: r.Name(), After: pb,
			Event: &talentv1.SkillRequirementCreated{SkillRequirement: pb, Version: r.Version}}); err != nil {
			return nil, err
		}
		if err := s.evaluateCoverage(ctx, tx, store.Scope{TeamIDs: []string{teamID}, SkillID: r.SkillID}); err != nil {
			return nil, err
		}
		return s.requirementIn(ctx, tx, teamID, r.SkillID)
	})
	if err != nil {
		return nil, fault.Prefix("skill_requirement", err)
	}
	return out, nil
}

// requirementIn reads a requirement as tx left it.
func (s *Server) requirementIn(ctx context.Context, tx store.Tx, teamID, skillID string) (*talentv1.SkillRequirement, error) {
	r, err := tx.GetSkillRequirement(ctx, teamID, skillID)
	if err != nil {
		return nil, err
	}
	return requirementToProto(r), nil
}

// GetSkillRequirement implements talentv1.TalentServiceServer.
func (s *Server) GetSkillRequirement(ctx context.Context, req *talentv1.GetSkillRequirementRequest) (*talentv1.SkillRequirement, error) {
	team, skill, err := requirementID(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetSkillRequirement(ctx, team, skill)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return requirementToProto(r), nil
}

// ListSkillRequirements implements talentv1.TalentServiceServer.
func (s *Server) ListSkillRequirements(ctx context.Context, req *talentv1.ListSkillRequirementsRequest) (*talentv1.ListSkillRequirementsResponse, error) {
	team := idOf(domain.TeamPattern, req.GetParent())
	if req.GetParent() == "teams/-" {
		team = store.Wildcard
	}
	page, token, err := listing.List(ctx, req, store.SkillRequirementTable,
		func(ctx context.Context, lq *listing.Query) ([]*domain.SkillRequirement, error) {
			return s.store.ListSkillRequirements(ctx, team, lq)
		}, listing.Infallible(requirementToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListSkillRequirementsResponse{SkillRequirements: page, NextPageToken: token}, nil
}

// UpdateSkillRequirement implements talentv1.TalentServiceServer.
func (s *Server) UpdateSkillRequirement(ctx context.Context, req *talentv1.UpdateSkillRequirementRequest) (*talentv1.SkillRequirement, error) {
	in := req.GetSkillRequirement()
	teamID, skillID, err := requirementID(in.GetName(), "skill_requirement.name")
	if err != nil {
		return nil, err
	}
	paths, err := requirementMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.SkillRequirement, error) {
		r, err := tx.GetSkillRequirement(ctx, teamID, skillID)
		if err != nil {
			return nil, fault.Named(err, in.GetName())
		}
		if err := etag.Check(in.GetEtag(), r.Name(), r.Version); err != nil {
			return nil, err
		}
		prev, before := r.Version, requirementToProto(r)
		changed, err := r.Apply(paths, in.GetMinProficiency(), in.GetRequiredPeople(), s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateSkillRequirement(ctx, r, prev); err != nil {
			return nil, err
		}
		after := requirementToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: r.Name(), Before: before, After: after,
			Event: &talentv1.SkillRequirementUpdated{SkillRequirement: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed},
				Version: r.Version}}); err != nil {
			return nil, err
		}
		if err := s.evaluateCoverage(ctx, tx, store.Scope{TeamIDs: []string{teamID}, SkillID: skillID}); err != nil {
			return nil, err
		}
		return s.requirementIn(ctx, tx, teamID, skillID)
	})
	if err != nil {
		return nil, fault.Prefix("skill_requirement", err)
	}
	return out, nil
}

// DeleteSkillRequirement implements talentv1.TalentServiceServer. A team no longer requiring a
// skill has no coverage of it: a key-person risk it had is cleared with the requirement.
func (s *Server) DeleteSkillRequirement(ctx context.Context, req *talentv1.DeleteSkillRequirementRequest) (*emptypb.Empty, error) {
	teamID, skillID, err := requirementID(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.GetSkillRequirement(ctx, teamID, skillID)
		if err != nil {
			return fault.Named(err, req.GetName())
		}
		if err := etag.Check(req.GetEtag(), r.Name(), r.Version); err != nil {
			return err
		}
		if err := tx.DeleteSkillRequirement(ctx, teamID, skillID, r.Version); err != nil {
			return err
		}
		pb := requirementToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: r.Name(), Before: pb,
			Event: &talentv1.SkillRequirementDeleted{SkillRequirement: pb, Version: r.Version + 1}}); err != nil {
			return err
		}
		if r.Coverage.KeyPersonID == "" {
			return nil
		}
		r.Coverage.KeyPersonID, r.Coverage.EvaluateTime = "", s.now().UTC()
		return tx.Emit(ctx, r.Name(), &talentv1.SkillKeyPersonRiskCleared{Coverage: coverageToProto(r),
			SkillRequirement: r.Name(), Version: r.Version + 2})
	}))
}

// GetTeamCoverage implements talentv1.TalentServiceServer: the coverage of a team's requirements
// (or every team's), as kept with them.
func (s *Server) GetTeamCoverage(ctx context.Context, req *talentv1.GetTeamCoverageRequest) (*talentv1.TeamCoverage, error) {
	var team string
	if !domain.TeamCoveragePattern.Scan(req.GetName(), &team) {
		return nil, domain.TeamCoveragePattern.Invalid("name")
	}
	if team != store.Wildcard {
		if _, err := s.store.GetTeam(ctx, team); err != nil {
			return nil, fault.Named(err, domain.TeamPattern.Format(team))
		}
	}
	read := s.now()
	reqs, err := s.store.ListCoverage(ctx, team)
	if err != nil {
		return nil, err
	}
	out := &talentv1.TeamCoverage{Name: req.GetName(), ReadTime: ts(read), Skills: make([]*talentv1.SkillCoverage, 0, len(reqs))}
	for _, r := range reqs {
		c := coverageToProto(r)
		if c.Gap {
			out.GapCount++
		}
		if c.KeyPersonRisk {
			out.KeyPersonCount++
		}
		out.Skills = append(out.Skills, c)
	}
	return out, nil
}

// evaluateCoverage evaluates again the coverage of the requirements in sc, within tx: it locks
// them, measures them from the ratings, stores what moved and emits the events of each change of
// state, each with a version of its own.
func (s *Server) evaluateCoverage(ctx context.Context, tx store.Tx, sc store.Scope) error {
	reqs, err := tx.LockSkillRequirements(ctx, sc)
	if err != nil || len(reqs) == 0 {
		return err
	}
	ms, err := tx.MeasureCoverage(ctx, sc)
	if err != nil {
		return err
	}
	measured := make(map[[2]string]store.Measure, len(ms))
	for _, m := range ms {
		measured[[2]string{m.TeamID, m.SkillID}] = m
	}
	now := s.now()
	for _, r := range reqs {
		m := measured[[2]string{r.TeamID, r.SkillID}]
		prev, covered := r.Version, r.Coverage.Covered
		c := r.Evaluate(m.Covered, m.KeyPersonID, now)
		if c.Count() == 0 && covered == r.Coverage.Covered {
			continue
		}
		if err := tx.UpdateSkillRequirement(ctx, r, prev); err != nil {
			return err
		}
		cov, name, v := coverageToProto(r), r.Name(), prev
		var events []sqlstore.Event
		next := func() int64 { v++; return v }
		if c.GapOpened {
			events = append(events, &talentv1.SkillCoverageGap{Coverage: cov, SkillRequirement: name, Version: next()})
		}
		if c.GapClosed {
			events = append(events, &talentv1.SkillCoverageRestored{Coverage: cov, SkillRequirement: name, Version: next()})
		}
		if c.KeyPersonRisk {
			n, err := tx.KeyPersonNames(ctx, r.TeamID, r.SkillID, r.Coverage.KeyPersonID)
			if err != nil {
				return err
			}
			events = append(events, &talentv1.SkillKeyPersonRisk{Coverage: cov, SkillRequirement: name, Version: next(),
				TeamDisplayName: n.Team, SkillDisplayName: n.Skill, KeyPersonDisplayName: n.Person})
		}
		if c.KeyPersonGone {
			events = append(events, &talentv1.SkillKeyPersonRiskCleared{Coverage: cov, SkillRequirement: name, Version: next()})
		}
		if err := tx.Emit(ctx, name, events...); err != nil {
			return err
		}
	}
	return nil
}

func requirementToProto(r *domain.SkillRequirement) *talentv1.SkillRequirement {
	return &talentv1.SkillRequirement{Name: r.Name(), Skill: domain.SkillPattern.Format(r.SkillID), MinProficiency: r.MinProficiency,
		RequiredPeople: r.RequiredPeople, Coverage: coverageToProto(r), CreateTime: ts(r.CreateTime), UpdateTime: ts(r.UpdateTime),
		Etag: etag.Of(r.Name(), r.Version)}
}

func coverageToProto(r *domain.SkillRequirement) *talentv1.SkillCoverage {
	c := &talentv1.SkillCoverage{Team: domain.TeamPattern.Format(r.TeamID), Skill: domain.SkillPattern.Format(r.SkillID),
		MinProficiency: r.MinProficiency, RequiredPeople: r.RequiredPeople, CoveredPeople: r.Coverage.Covered,
		Shortfall: r.Shortfall(), Gap: r.Coverage.Gap, KeyPersonRisk: r.Coverage.KeyPersonID != "",
		EvaluateTime: ts(r.Coverage.EvaluateTime)}
	if r.Coverage.KeyPersonID != "" {
		c.KeyPerson = domain.PersonPattern.Format(r.Coverage.KeyPersonID)
	}
	return c
}
