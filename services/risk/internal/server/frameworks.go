package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/catalogue"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// Compliance implements riskv1.ComplianceServiceServer on the same store, clock and settings as
// the risk register's Server, whose risks its controls mitigate. Each resource's methods live in
// a file of their own (frameworks.go, controls.go, posture.go); a method not written yet is
// answered by the embedded UnimplementedComplianceServiceServer with UNIMPLEMENTED.
type Compliance struct {
	riskv1.UnimplementedComplianceServiceServer
	*Server
}

// Compliance returns the compliance API of the server.
func (s *Server) Compliance() *Compliance { return &Compliance{Server: s} }

// frameworkToProto is f as the API shows it.
func frameworkToProto(f *domain.Framework) *riskv1.Framework {
	return &riskv1.Framework{
		Name:             f.Name(),
		Title:            f.Title,
		Publisher:        f.Publisher,
		Edition:          f.Edition,
		Description:      f.Description,
		RequirementCount: f.RequirementCount,
		CreateTime:       timestamppb.New(f.CreateTime),
		UpdateTime:       timestamppb.New(f.UpdateTime),
		Etag:             etag.Of(f.Name(), f.Version),
	}
}

// requirementToProto is r as the API shows it.
func requirementToProto(r *domain.Requirement) *riskv1.Requirement {
	return &riskv1.Requirement{Name: r.Name(), Identifier: r.Identifier, Title: r.Title, Position: r.Position}
}

// ImportFramework implements riskv1.ComplianceServiceServer. The import is its own idempotency:
// it brings the stored framework to the catalogue's, so a second import changes nothing and
// publishes nothing.
func (s *Compliance) ImportFramework(ctx context.Context, req *riskv1.ImportFrameworkRequest) (*riskv1.Framework, error) {
	cf, ok, err := catalogue.Lookup(req.GetFrameworkId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, domain.ErrFrameworkNotInCatalogue.With("framework_id", req.GetFrameworkId())
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Framework, error) {
		f, err := tx.GetFramework(ctx, cf.ID)
		created := errors.Is(err, domain.ErrFrameworkNotFound)
		switch {
		case created:
			f = &domain.Framework{ID: cf.ID, CreateTime: now, UpdateTime: now, Version: 1}
		case err != nil:
			return nil, err
		}
		prev, before := f.Version, frameworkToProto(f)
		header := f.Title != cf.Title || f.Publisher != cf.Publisher || f.Edition != cf.Edition || f.Description != cf.Description
		f.Title, f.Publisher, f.Edition, f.Description = cf.Title, cf.Publisher, cf.Edition, cf.Description
		if created {
			if err := tx.InsertFramework(ctx, f); err != nil {
				return nil, err
			}
		}
		stored, err := tx.Requirements(ctx, f.ID)
		if err != nil {
			return nil, err
		}
		byID := map[string]*domain.Requirement{}
		for _, r := range stored {
			byID[r.ID] = r
		}
		var added, changed int32
		for i, cr := range cf.Requirements {
			r := &domain.Requirement{FrameworkID: f.ID, ID: domain.RequirementID(cr[0]), Identifier: cr[0], Title: cr[1], Position: int32(i + 1)}
			switch old := byID[r.ID]; {
			case old == nil:
				err, added = tx.InsertRequirement(ctx, r), added+1
			case *old != *r:
				err, changed = tx.UpdateRequirement(ctx, r), changed+1
			}
			if err != nil {
				return nil, err
			}
		}
		if !created && !header && added == 0 && changed == 0 {
			return before, nil
		}
		if !created {
			f.Version++
			f.UpdateTime = now
			if err := tx.UpdateFramework(ctx, f, prev); err != nil {
				return nil, err
			}
		}
		f.RequirementCount = int32(len(stored)) + added
		if err := s.recordPosture(ctx, tx, f, false); err != nil {
			return nil, err
		}
		after, action := frameworkToProto(f), audit.Update
		if created {
			before, action = nil, audit.Create
		}
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: action, Resource: f.Name(), Before: before, After: after,
			Event: &riskv1.FrameworkImported{Framework: after, AddedRequirements: added, ChangedRequirements: changed, Version: f.Version}})
	})
}

// GetFramework implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetFramework(ctx context.Context, req *riskv1.GetFrameworkRequest) (*riskv1.Framework, error) {
	return names.GetAs(ctx, domain.FrameworkPattern, req.GetName(), s.store.GetFramework, frameworkToProto)
}

// ListFrameworks implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListFrameworks(ctx context.Context, req *riskv1.ListFrameworksRequest) (*riskv1.ListFrameworksResponse, error) {
	page, token, err := listing.List(ctx, req, store.FrameworkTable, s.store.ListFrameworks, listing.Infallible(frameworkToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListFrameworksResponse{Frameworks: page, NextPageToken: token}, nil
}

// GetRequirement implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetRequirement(ctx context.Context, req *riskv1.GetRequirementRequest) (*riskv1.Requirement, error) {
	var f, id string
	domain.RequirementPattern.Scan(req.GetName(), &f, &id)
	r, err := s.store.GetRequirement(ctx, f, id)
	if err != nil {
		return nil, err
	}
	return requirementToProto(r), nil
}

// ListRequirements implements riskv1.ComplianceServiceServer. A framework that does not exist
// fails with NOT_FOUND rather than listing nothing: its requirements come only with it.
func (s *Compliance) ListRequirements(ctx context.Context, req *riskv1.ListRequirementsRequest) (*riskv1.ListRequirementsResponse, error) {
	var f string
	domain.FrameworkPattern.Scan(req.GetParent(), &f)
	if _, err := s.store.GetFramework(ctx, f); err != nil {
		return nil, err
	}
	page, token, err := listing.List(ctx, req, store.RequirementTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.Requirement, error) {
			return s.store.ListRequirements(ctx, f, q)
		}, listing.Infallible(requirementToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListRequirementsResponse{Requirements: page, NextPageToken: token}, nil
}

// recordPostures records the posture of each framework as today's snapshot, in tx, the
// transaction of the change that may have moved it (see store.RecordPosture), and publishes
// framework.posture_changed for each whose counts changed. It locks the frameworks, in the order
// of their IDs, so that the changes of one framework's posture are counted and published one
// after the other.
func (s *Server) recordPostures(ctx context.Context, tx store.Tx, frameworkIDs ...string) error {
	ids := slices.Clone(frameworkIDs)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		f, err := tx.GetFramework(ctx, id)
		if err != nil {
			return err
		}
		if err := s.recordPosture(ctx, tx, f, true); err != nil {
			return err
		}
	}
	return nil
}

// recordPosture records the posture of framework f, locked in tx, as today's snapshot; when its
// counts differ from those the last change left (the latest snapshot), it publishes
// framework.posture_changed about frameworks/{framework}/posture with f's version. save raises
// that version first and stores it; an import, which raised and stored it already, passes false.
func (s *Server) recordPosture(ctx context.Context, tx store.Tx, f *domain.Framework, save bool) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	today := civil.DateOf(now)
	p, err := tx.Posture(ctx, f.ID)
	if err != nil {
		return err
	}
	last, had, err := tx.LatestPosture(ctx, f.ID, today)
	if err != nil {
		return err
	}
	if _, err := tx.RecordPosture(ctx, p, today); err != nil {
		return err
	}
	if had && last == p {
		return nil
	}
	if save {
		prev := f.Version
		f.Version++
		if err := tx.UpdateFramework(ctx, f, prev); err != nil {
			return err
		}
	}
	ev := &riskv1.FrameworkPostureChanged{Framework: f.Name(), Title: f.Title, Posture: postureToProto(p), Version: f.Version}
	ev.Posture.ComputeTime = timestamppb.New(now)
	if had {
		ev.PreviousPosture = postureToProto(last)
	}
	return tx.Emit(ctx, ev.Posture.GetName(), ev)
}

// postureToProto is p's counts as the API shows them, without the gaps.
func postureToProto(p domain.Posture) *riskv1.CompliancePosture {
	return &riskv1.CompliancePosture{Name: domain.PosturePattern.Format(p.FrameworkID), RequirementCount: p.RequirementCount,
		CoveredCount: p.Covered, PartialCount: p.Partial, NotCoveredCount: p.NotCovered, CoveredPercent: p.CoveredPercent()}
}
