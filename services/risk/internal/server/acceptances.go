package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// An approved acceptance expires at the start (UTC) of the day after its expiry date: the store
// declares that date when the acceptance is approved (store.UpdateAcceptance) and clears it when
// it is revoked, in the change's transaction. Expiry and revocation both make the risk due for
// review that day.

// acceptanceSchedules are the due items of acceptances: an approved acceptance expiring.
func (s *Server) acceptanceSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.AcceptanceExpiryKind: s.AcceptanceExpired}
}

// acceptanceToProto is a as the API shows it.
func acceptanceToProto(a *domain.Acceptance) *riskv1.Acceptance {
	pb := &riskv1.Acceptance{
		Name:           a.Name(),
		Justification:  a.Justification,
		ExpiryDate:     civil.ToProto(a.ExpiryDate),
		State:          riskv1.Acceptance_State(a.State),
		Requester:      a.Requester,
		Approver:       a.Approver,
		DecisionReason: a.DecisionReason,
		AcceptedScore:  a.AcceptedScore,
		CreateTime:     timestamppb.New(a.CreateTime),
		UpdateTime:     timestamppb.New(a.UpdateTime),
		Etag:           etag.Of(a.Name(), a.Version),
	}
	if !a.DecideTime.IsZero() {
		pb.DecideTime = timestamppb.New(a.DecideTime)
	}
	return pb
}

// CreateAcceptance implements riskv1.RiskServiceServer: the caller requests the acceptance of an
// assessed risk that is not CLOSED, at its residual score.
func (s *Server) CreateAcceptance(ctx context.Context, req *riskv1.CreateAcceptanceRequest) (*riskv1.Acceptance, error) {
	riskID, _ := domain.RiskPattern.Last(req.GetParent())
	in := req.GetAcceptance()
	expiry, err := civil.FromProtoField(in.GetExpiryDate(), "acceptance.expiry_date")
	if err != nil {
		return nil, err
	}
	now, id, requester := s.now(), s.id(req.GetAcceptanceId()), identity.Owner(ctx)
	// Checked before the transaction too, so that bad input is reported whatever the risk.
	if _, err := domain.NewAcceptance(riskID, id, in.GetJustification(), expiry, requester, 0, s.cfg.AcceptanceMaxDays, now); err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, riskv1.RiskService_CreateAcceptance_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.Acceptance, error) {
			r, err := tx.GetRisk(ctx, riskID)
			if err != nil {
				return nil, err
			}
			if r.State == domain.RiskClosed {
				return nil, domain.ErrRiskClosed.With("name", r.Name())
			}
			if !r.Scored() {
				return nil, domain.ErrRiskNotAssessed.With("risk", r.Name())
			}
			if live, err := tx.LiveAcceptance(ctx, riskID); err != nil || live {
				if err == nil {
					err = domain.ErrAcceptanceExists.With("risk", r.Name())
				}
				return nil, err
			}
			a, err := domain.NewAcceptance(riskID, id, in.GetJustification(), expiry, requester, r.Residual.Value(), s.cfg.AcceptanceMaxDays, now)
			if err != nil {
				return nil, err
			}
			if err := tx.InsertAcceptance(ctx, a); err != nil {
				return nil, err
			}
			pb := acceptanceToProto(a)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
				Event: &riskv1.AcceptanceRequested{Acceptance: pb, Version: a.Version}})
		})
}

// GetAcceptance implements riskv1.RiskServiceServer.
func (s *Server) GetAcceptance(ctx context.Context, req *riskv1.GetAcceptanceRequest) (*riskv1.Acceptance, error) {
	var riskID, id string
	domain.AcceptancePattern.ScanResource(req.GetName(), &riskID, &id)
	a, err := s.store.GetAcceptance(ctx, riskID, id)
	if err != nil {
		return nil, err
	}
	return acceptanceToProto(a), nil
}

// ListAcceptances implements riskv1.RiskServiceServer.
func (s *Server) ListAcceptances(ctx context.Context, req *riskv1.ListAcceptancesRequest) (*riskv1.ListAcceptancesResponse, error) {
	var riskID string
	domain.RiskPattern.Scan(req.GetParent(), &riskID)
	page, token, err := listing.List(ctx, req, store.AcceptanceTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.Acceptance, error) {
			return s.store.ListAcceptances(ctx, riskID, q)
		},
		listing.Infallible(acceptanceToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListAcceptancesResponse{Acceptances: page, NextPageToken: token}, nil
}

// acceptanceRequest is a lifecycle request of an acceptance: its name, etag and request ID.
type acceptanceRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// changeAcceptance runs the lifecycle method method of the acceptance req names: change moves
// it, given the risk it belongs to (locked first, as every change of the risk does), and event
// tells of it.
func (s *Server) changeAcceptance(ctx context.Context, method string, req acceptanceRequest,
	change func(ctx context.Context, tx store.Tx, a *domain.Acceptance, r *domain.Risk) error,
	event func(pb *riskv1.Acceptance, version int64) sqlstore.Event) (*riskv1.Acceptance, error) {
	var riskID, id string
	domain.AcceptancePattern.ScanResource(req.GetName(), &riskID, &id)
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.Acceptance, error) {
		r, err := tx.GetRisk(ctx, riskID)
		if err != nil {
			return nil, err
		}
		a, err := tx.GetAcceptance(ctx, riskID, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, acceptanceToProto(a)
		if err := change(ctx, tx, a, r); err != nil {
			return nil, err
		}
		if err := tx.UpdateAcceptance(ctx, a, prev); err != nil {
			return nil, err
		}
		after := acceptanceToProto(a)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: event(after, a.Version)})
	})
}

// ApproveAcceptance implements riskv1.RiskServiceServer: the caller, who holds risk.approve (the
// method's scope) and is not the risk's owner, approves a PENDING acceptance, which then expires
// the day after its expiry date.
func (s *Server) ApproveAcceptance(ctx context.Context, req *riskv1.ApproveAcceptanceRequest) (*riskv1.Acceptance, error) {
	approver, now := identity.Owner(ctx), s.now()
	return s.changeAcceptance(ctx, riskv1.RiskService_ApproveAcceptance_FullMethodName, req,
		func(_ context.Context, _ store.Tx, a *domain.Acceptance, r *domain.Risk) error {
			if r.State == domain.RiskClosed {
				return domain.ErrRiskClosed.With("name", r.Name())
			}
			return a.Approve(approver, r.Owner, req.GetReason(), now)
		},
		func(pb *riskv1.Acceptance, v int64) sqlstore.Event {
			return &riskv1.AcceptanceApproved{Acceptance: pb, Version: v}
		})
}

// RejectAcceptance implements riskv1.RiskServiceServer: the caller, not the risk's owner,
// rejects a PENDING acceptance.
func (s *Server) RejectAcceptance(ctx context.Context, req *riskv1.RejectAcceptanceRequest) (*riskv1.Acceptance, error) {
	approver, now := identity.Owner(ctx), s.now()
	return s.changeAcceptance(ctx, riskv1.RiskService_RejectAcceptance_FullMethodName, req,
		func(_ context.Context, _ store.Tx, a *domain.Acceptance, r *domain.Risk) error {
			return a.Reject(approver, r.Owner, req.GetReason(), now)
		},
		func(pb *riskv1.Acceptance, v int64) sqlstore.Event {
			return &riskv1.AcceptanceRejected{Acceptance: pb, Version: v}
		})
}

// RevokeAcceptance implements riskv1.RiskServiceServer: an APPROVED acceptance ends before its
// expiry, and the risk is due for review today.
func (s *Server) RevokeAcceptance(ctx context.Context, req *riskv1.RevokeAcceptanceRequest) (*riskv1.Acceptance, error) {
	now := s.now()
	return s.changeAcceptance(ctx, riskv1.RiskService_RevokeAcceptance_FullMethodName, req,
		func(ctx context.Context, tx store.Tx, a *domain.Acceptance, r *domain.Risk) error {
			if err := a.Revoke(req.GetReason(), now); err != nil {
				return err
			}
			return s.reviewAfterAcceptance(ctx, tx, r, civil.DateOf(now.UTC()), a.Name())
		},
		func(pb *riskv1.Acceptance, v int64) sqlstore.Event {
			return &riskv1.AcceptanceRevoked{Acceptance: pb, Version: v}
		})
}

// WithdrawAcceptance implements riskv1.RiskServiceServer.
func (s *Server) WithdrawAcceptance(ctx context.Context, req *riskv1.WithdrawAcceptanceRequest) (*riskv1.Acceptance, error) {
	now := s.now()
	return s.changeAcceptance(ctx, riskv1.RiskService_WithdrawAcceptance_FullMethodName, req,
		func(_ context.Context, _ store.Tx, a *domain.Acceptance, _ *domain.Risk) error {
			return a.Withdraw(req.GetReason(), now)
		},
		func(pb *riskv1.Acceptance, v int64) sqlstore.Event {
			return &riskv1.AcceptanceWithdrawn{Acceptance: pb, Version: v}
		})
}

// AcceptanceExpired is the scheduler.Handler of store.AcceptanceExpiryKind: at the start of the
// day after its expiry date an APPROVED acceptance becomes EXPIRED, acceptance.expired is
// published, and its risk, unless CLOSED, is due for review that day. An item of an acceptance
// that is gone, no longer APPROVED or whose expiry date is another does nothing.
func (s *Server) AcceptanceExpired(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var riskID, id string
	if !domain.AcceptancePattern.ScanResource(item.Resource, &riskID, &id) {
		return scheduler.Permanent(fmt.Errorf("expiry item %q: not an acceptance name", item.Resource))
	}
	tx := store.Join(t)
	r, err := tx.GetRisk(ctx, riskID)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	a, err := tx.GetAcceptance(ctx, riskID, id)
	if errors.Is(err, domain.ErrAcceptanceNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.State != domain.AcceptanceApproved || !a.ExpiresAt().Equal(item.Due) {
		return nil
	}
	prev, before := a.Version, acceptanceToProto(a)
	a.Expire(item.FiredAt)
	if err := tx.UpdateAcceptance(ctx, a, prev); err != nil {
		return err
	}
	day := civil.DateOf(item.Due.UTC())
	if err := s.reviewAfterAcceptance(ctx, tx, r, day, a.Name()); err != nil {
		return err
	}
	after := acceptanceToProto(a)
	return tx.Record(ctx, sqlstore.Change{Action: audit.Update, Resource: a.Name(), Before: before, After: after,
		Event: &riskv1.AcceptanceExpired{Acceptance: after, ExpiryDate: civil.ToProto(a.ExpiryDate),
			DueTime: timestamppb.New(item.Due.UTC()), FireTime: timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
			Version: a.Version}})
}

// reviewAfterAcceptance makes risk r due for review on day, because the acceptance named cause
// ended (expired or revoked). A CLOSED risk is not reviewed.
func (s *Server) reviewAfterAcceptance(ctx context.Context, tx store.Tx, r *domain.Risk, day civil.Date, cause string) error {
	if r.State == domain.RiskClosed {
		return nil
	}
	return s.MakeReviewDue(ctx, tx, r.ID, day, cause)
}
