package server

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// teamMask follows the field behaviors of the Team message.
var teamMask = fieldmask.FromDescriptor((&talentv1.Team{}).ProtoReflect().Descriptor(), "name", "etag")

// CreateTeam implements talentv1.TalentServiceServer.
func (s *Server) CreateTeam(ctx context.Context, req *talentv1.CreateTeamRequest) (*talentv1.Team, error) {
	t, err := domain.NewTeam(s.id(req.GetTeamId()), teamFields(req.GetTeam()), s.now())
	if err != nil {
		return nil, fault.Prefix("team", err)
	}
	// Budget is asked before the transaction: a slow or absent budget holds no locks.
	if err := s.checkCostCenter(ctx, t.CostCenter); err != nil {
		return nil, fault.Prefix("team", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateTeam_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Team, error) {
		if err := checkManager(ctx, tx, t.ManagerID); err != nil {
			return nil, err
		}
		if err := tx.InsertTeam(ctx, t); err != nil {
			return nil, err
		}
		pb := teamToProto(t)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: t.Name(), After: pb,
			Event: &talentv1.TeamCreated{Team: pb, Version: t.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("team", err)
	}
	return out, nil
}

// GetTeam implements talentv1.TalentServiceServer.
func (s *Server) GetTeam(ctx context.Context, req *talentv1.GetTeamRequest) (*talentv1.Team, error) {
	return names.GetAs(ctx, domain.TeamPattern, req.GetName(), s.store.GetTeam, teamToProto)
}

// ListTeams implements talentv1.TalentServiceServer.
func (s *Server) ListTeams(ctx context.Context, req *talentv1.ListTeamsRequest) (*talentv1.ListTeamsResponse, error) {
	page, token, err := listing.List(ctx, req, store.TeamTable, s.store.ListTeams, listing.Infallible(teamToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListTeamsResponse{Teams: page, NextPageToken: token}, nil
}

// UpdateTeam implements talentv1.TalentServiceServer.
func (s *Server) UpdateTeam(ctx context.Context, req *talentv1.UpdateTeamRequest) (*talentv1.Team, error) {
	in := req.GetTeam()
	if !domain.TeamPattern.Match(in.GetName()) {
		return nil, domain.TeamPattern.Invalid("team.name")
	}
	paths, err := teamMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := teamFields(in)
	if slices.Contains(paths, domain.FieldCostCenter) {
		if err := s.checkCostCenter(ctx, fields.CostCenter); err != nil {
			return nil, fault.Prefix("team", err)
		}
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.Team, error) {
		if slices.Contains(paths, domain.FieldParent) {
			// Taken before any row lock, in the same order by every mover, so that two moves
			// cannot deadlock or build a cycle together.
			if err := tx.LockTeamTree(ctx); err != nil {
				return nil, err
			}
		}
		t, err := names.Get(ctx, domain.TeamPattern, in.GetName(), tx.GetTeam)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), t.Name(), t.Version); err != nil {
			return nil, err
		}
		prev, before := t.Version, teamToProto(t)
		changed, err := t.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil // nothing to write, nothing happened
		}
		if slices.Contains(changed, domain.FieldParent) && t.ParentID != "" {
			// A missing parent has no ancestors and fails on the foreign key at the update.
			ancestors, err := tx.TeamAncestors(ctx, t.ParentID)
			if err != nil {
				return nil, err
			}
			if err := t.CheckAncestry(ancestors); err != nil {
				return nil, err
			}
		}
		if slices.Contains(changed, domain.FieldManager) {
			if err := checkManager(ctx, tx, t.ManagerID); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateTeam(ctx, t, prev); err != nil {
			return nil, err
		}
		after := teamToProto(t)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: t.Name(), Before: before, After: after,
			Event: &talentv1.TeamUpdated{Team: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: t.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("team", err)
	}
	return out, nil
}

// DeleteTeam implements talentv1.TalentServiceServer.
func (s *Server) DeleteTeam(ctx context.Context, req *talentv1.DeleteTeamRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err := names.Get(ctx, domain.TeamPattern, req.GetName(), tx.GetTeam)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), t.Name(), t.Version); err != nil {
			return err
		}
		if used, err := tx.TeamInUse(ctx, t.ID); err != nil {
			return err
		} else if used {
			return domain.ErrTeamNotEmpty.With("name", t.Name())
		}
		if err := tx.DeleteTeam(ctx, t.ID, t.Version); err != nil {
			return err
		}
		pb := teamToProto(t)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: t.Name(), Before: pb,
			Event: &talentv1.TeamDeleted{Team: pb, Version: t.Version + 1}})
	}))
}

// checkManager refuses a manager who is not a person or has left; the row stays locked until the
// transaction ends, so the person cannot leave meanwhile.
func checkManager(ctx context.Context, tx store.Tx, personID string) error {
	if personID == "" {
		return nil
	}
	state, ok, err := tx.PersonState(ctx, personID)
	switch {
	case err != nil:
		return err
	case !ok:
		return domain.ErrManagerNotFound.With("manager", domain.PersonPattern.Format(personID))
	case state == int32(talentv1.Person_LEFT):
		return domain.ErrManagerLeft.With("manager", domain.PersonPattern.Format(personID))
	}
	return nil
}

// checkCostCenter asks budget, for the caller, whether the cost centre exists and is active. A
// cost centre budget does not know, or an inactive one, is the field's fault (INVALID_ARGUMENT);
// budget down is UNAVAILABLE and any other refusal (the caller may not read budget)
// FAILED_PRECONDITION, PEER_REFUSED.
func (s *Server) checkCostCenter(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	cc, err := s.budget.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: name})
	var pe *peer.Error
	switch {
	case errors.As(err, &pe) && pe.Code() == codes.NotFound:
		return domain.ErrCostCenterNotFound.With("cost_center", name)
	case err != nil:
		return err
	case cc.Active != nil && !cc.GetActive():
		return domain.ErrCostCenterInactive.With("cost_center", name)
	}
	return nil
}
