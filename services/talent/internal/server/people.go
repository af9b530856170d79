package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// Pay never leaves the service except in a response to a caller holding talent.compensation:
// the interceptors remove it from responses for everyone else (the field's read scope), and the
// service removes it itself from what has no caller to authorize — events (authz.Public) and
// audit records (the person as anyone may see it) — and from lists' filters and orders
// (ErrCompensationField).
const compensationScope = "talent.compensation"

// principalScope is the scope that links a person to a principal (Person.principal): the link
// makes the principal a member of the person's team, who may write what the team owns under the
// owner write policy (ADR 0014), so it is the admin scope's.
const principalScope = "talent.admin"

var personMask = fieldmask.FromDescriptor((&talentv1.Person{}).ProtoReflect().Descriptor(), "name", "etag")

// CreatePerson implements talentv1.TalentServiceServer.
func (s *Server) CreatePerson(ctx context.Context, req *talentv1.CreatePersonRequest) (*talentv1.Person, error) {
	fields, err := personFields(req.GetPerson(), "person.")
	if err != nil {
		return nil, err
	}
	p, err := domain.NewPerson(s.id(req.GetPersonId()), fields, s.now())
	if err != nil {
		return nil, fault.Prefix("person", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreatePerson_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Person, error) {
		if err := tx.InsertPerson(ctx, p); err != nil {
			return nil, err
		}
		pb := personToProto(p)
		public := authz.Public(pb)
		// A person joins without ratings, so joining moves no coverage: their first rating does.
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: p.Name(), After: public,
			Event: &talentv1.PersonJoined{Person: public, Version: p.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("person", err)
	}
	return out, nil
}

// GetPerson implements talentv1.TalentServiceServer.
func (s *Server) GetPerson(ctx context.Context, req *talentv1.GetPersonRequest) (*talentv1.Person, error) {
	return names.GetAs(ctx, domain.PersonPattern, req.GetName(), s.store.GetPerson, personToProto)
}

// ListPeople implements talentv1.TalentServiceServer. A caller without talent.compensation may
// neither filter nor order on pay: the refusal names the field, never a value.
func (s *Server) ListPeople(ctx context.Context, req *talentv1.ListPeopleRequest) (*talentv1.ListPeopleResponse, error) {
	table := store.PersonTable
	if p, _ := identity.FromContext(ctx); p.Has(compensationScope) {
		table = store.PersonTableWithPay
	} else {
		for field, expr := range map[string]string{"filter": req.GetFilter(), "order_by": req.GetOrderBy()} {
			if store.MentionsPay(expr) {
				return nil, domain.ErrCompensationField.OnField(field, "")
			}
		}
	}
	page, token, err := listing.List(ctx, req, table, s.store.ListPeople, listing.Infallible(personToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListPeopleResponse{People: page, NextPageToken: token}, nil
}

// UpdatePerson implements talentv1.TalentServiceServer.
func (s *Server) UpdatePerson(ctx context.Context, req *talentv1.UpdatePersonRequest) (*talentv1.Person, error) {
	in := req.GetPerson()
	if !domain.PersonPattern.Match(in.GetName()) {
		return nil, domain.PersonPattern.Invalid("person.name")
	}
	paths, err := personMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	// Clearing pay or the principal is setting it too: the interceptors only see a request that
	// carries it.
	for field, scope := range map[string]string{domain.FieldCost: compensationScope, domain.FieldPrincipal: principalScope} {
		if p, _ := identity.FromContext(ctx); slices.Contains(paths, field) && !p.Has(scope) {
			return nil, fault.New(fault.PermissionDenied, authz.ReasonFieldWrite, "setting the field needs another scope").
				With("field", "person."+field).With("scope", scope)
		}
	}
	fields, err := personFields(in, "person.")
	if err != nil {
		return nil, err
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.Person, error) {
		p, err := names.Get(ctx, domain.PersonPattern, in.GetName(), tx.GetPerson)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before, fromTeam := p.Version, personToProto(p), p.TeamID
		changed, err := p.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil
		}
		if err := tx.UpdatePerson(ctx, p, prev); err != nil {
			return nil, err
		}
		after := personToProto(p)
		public := authz.Public(after)
		change := sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: authz.Public(before), After: public}
		visible := slices.DeleteFunc(slices.Clone(changed), func(f string) bool { return f == domain.FieldCost })
		switch {
		case slices.Contains(changed, domain.FieldTeam):
			change.Event = &talentv1.PersonMoved{Person: public, FromTeam: domain.TeamName(fromTeam),
				ToTeam: domain.TeamName(p.TeamID), Version: p.Version}
		case len(visible) > 0:
			change.Event = &talentv1.PersonUpdated{Person: public, ChangedFields: &fieldmaskpb.FieldMask{Paths: visible}, Version: p.Version}
		}
		if err := tx.Record(ctx, change); err != nil {
			return nil, err
		}
		if !slices.Contains(changed, domain.FieldTeam) {
			return after, nil
		}
		// A move changes the coverage of both teams' requirements.
		return after, s.evaluateCoverage(ctx, tx, store.Scope{TeamIDs: []string{fromTeam, p.TeamID}})
	})
	if err != nil {
		return nil, fault.Prefix("person", err)
	}
	return out, nil
}

// LeavePerson implements talentv1.TalentServiceServer.
func (s *Server) LeavePerson(ctx context.Context, req *talentv1.LeavePersonRequest) (*talentv1.Person, error) {
	end := s.today()
	if req.GetEndDate() != nil {
		var err error
		if end, err = civil.FromProtoField(req.GetEndDate(), "end_date"); err != nil {
			return nil, err
		}
	}
	return idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_LeavePerson_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Person, error) {
		p, err := names.Get(ctx, domain.PersonPattern, req.GetName(), tx.GetPerson)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, authz.Public(personToProto(p))
		if err := p.Leave(end, s.now()); err != nil {
			return nil, err
		}
		if err := tx.UpdatePerson(ctx, p, prev); err != nil {
			return nil, err
		}
		// The organisation no longer renews the certifications of someone who left
		// (certifications.go).
		if err := tx.CancelPersonCertificationReminders(ctx, p.ID); err != nil {
			return nil, err
		}
		after := personToProto(p)
		public := authz.Public(after)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: "LEAVE", Resource: p.Name(), Before: before, After: public,
			Event: &talentv1.PersonLeft{Person: public, Version: p.Version}}); err != nil {
			return nil, err
		}
		return after, s.evaluateCoverage(ctx, tx, store.Scope{TeamIDs: []string{p.TeamID}})
	})
}

// GetCallerTeams implements talentv1.TalentServiceServer: the teams of the ACTIVE person linked
// to the caller's principal. It answers about the caller only, so any authenticated caller may
// ask; the services' owner write policy asks it of team owners (ADR 0014).
func (s *Server) GetCallerTeams(ctx context.Context, _ *talentv1.GetCallerTeamsRequest) (*talentv1.CallerTeams, error) {
	principal := identity.Owner(ctx)
	out := &talentv1.CallerTeams{Principal: principal}
	if principal == identity.System {
		return out, nil
	}
	id, teamID, ok, err := s.store.PrincipalPerson(ctx, principal)
	if err != nil || !ok {
		return out, err
	}
	out.Person, out.Teams = domain.PersonPattern.Format(id), []string{domain.TeamName(teamID)}
	return out, nil
}
