package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// A position's approval follows the contract activation protocol (ADR 0010, docs/talent.md):
// before its transaction, the approval finds the team's cost centre's internal-labour line in
// budget — the line of the approved budget whose fiscal year holds the target start — and holds
// there, through the peer connection for the caller (who needs budget.read and budget.spend),
// the budgeted annual cost over a year from the target start, of which budget holds the part up
// to the fiscal year's end. Then, in one transaction, the position OPEN with the line and the
// hold, position.approved and position.opened; budget's consumer turns the hold into the
// position's labour commitment. Filling and cancelling are facts budget applies from their
// events (position.filled moves the commitment to the real start, position.cancelled releases
// it), with no call. A hold the transaction does not use is released at once, best effort; its
// expiry is the backstop.

// holdMargin is how long a hold must still live when the position that names it commits: budget
// must be able to read position.approved before the hold lapses.
const holdMargin = time.Minute

// releaseTimeout bounds the best-effort release of a hold that an approval did not use.
const releaseTimeout = 5 * time.Second

// positionMask follows the field behaviors of the Position message.
var positionMask = fieldmask.FromDescriptor((&talentv1.Position{}).ProtoReflect().Descriptor(), "name", "etag")

// CreatePosition implements talentv1.TalentServiceServer.
func (s *Server) CreatePosition(ctx context.Context, req *talentv1.CreatePositionRequest) (*talentv1.Position, error) {
	fields, err := positionFields(req.GetPosition())
	if err != nil {
		return nil, fault.Prefix("position", err)
	}
	p, err := domain.NewPosition(s.id(req.GetPositionId()), fields, s.now())
	if err != nil {
		return nil, fault.Prefix("position", err)
	}
	// The creator requests the position from the start: under the owner write policy the
	// requester owns it, its draft included (ADR 0014); the submission names the submitter.
	p.Requester = identity.Owner(ctx)
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreatePosition_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Position, error) {
		if err := checkPositionRefs(ctx, tx, p, domain.PositionWritableFields); err != nil {
			return nil, err
		}
		if err := tx.InsertPosition(ctx, p); err != nil {
			return nil, err
		}
		pb := positionToProto(p)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: p.Name(), After: pb,
			Event: &talentv1.PositionCreated{Position: pb, Version: p.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("position", err)
	}
	return out, nil
}

// GetPosition implements talentv1.TalentServiceServer.
func (s *Server) GetPosition(ctx context.Context, req *talentv1.GetPositionRequest) (*talentv1.Position, error) {
	return names.GetAs(ctx, domain.PositionPattern, req.GetName(), s.store.GetPosition, positionToProto)
}

// ListPositions implements talentv1.TalentServiceServer.
func (s *Server) ListPositions(ctx context.Context, req *talentv1.ListPositionsRequest) (*talentv1.ListPositionsResponse, error) {
	page, token, err := listing.List(ctx, req, store.PositionTable, s.store.ListPositions, listing.Infallible(positionToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListPositionsResponse{Positions: page, NextPageToken: token}, nil
}

// UpdatePosition implements talentv1.TalentServiceServer: a DRAFT position only.
func (s *Server) UpdatePosition(ctx context.Context, req *talentv1.UpdatePositionRequest) (*talentv1.Position, error) {
	in := req.GetPosition()
	if !domain.PositionPattern.Match(in.GetName()) {
		return nil, domain.PositionPattern.Invalid("position.name")
	}
	paths, err := positionMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, err := positionFields(in)
	if err != nil {
		return nil, fault.Prefix("position", err)
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.Position, error) {
		p, err := names.Get(ctx, domain.PositionPattern, in.GetName(), tx.GetPosition)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, positionToProto(p)
		changed, err := p.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil
		}
		if err := checkPositionRefs(ctx, tx, p, changed); err != nil {
			return nil, err
		}
		if err := tx.UpdatePosition(ctx, p, prev); err != nil {
			return nil, err
		}
		after := positionToProto(p)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &talentv1.PositionUpdated{Position: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: p.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("position", err)
	}
	return out, nil
}

// DeletePosition implements talentv1.TalentServiceServer: a DRAFT position only.
func (s *Server) DeletePosition(ctx context.Context, req *talentv1.DeletePositionRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := names.Get(ctx, domain.PositionPattern, req.GetName(), tx.GetPosition)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return err
		}
		if err := p.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.DeletePosition(ctx, p.ID, p.Version); err != nil {
			return err
		}
		pb := positionToProto(p)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: p.Name(), Before: pb,
			Event: &talentv1.PositionDeleted{Position: pb, Version: p.Version + 1}})
	}))
}

// checkPositionRefs checks the references among the changed fields of p: the team, the
// required skills and the person a backfill replaces must exist.
func checkPositionRefs(ctx context.Context, tx store.Tx, p *domain.Position, changed []string) error {
	for _, f := range changed {
		switch f {
		case domain.FieldPositionTeam:
			if _, err := tx.GetTeam(ctx, p.TeamID); errors.Is(err, domain.ErrTeamNotFound) {
				return domain.ErrPositionTeamNotFound.With("team", domain.TeamName(p.TeamID))
			} else if err != nil {
				return err
			}
		case domain.FieldBackfillOf:
			if p.BackfillOf == "" {
				continue
			}
			if _, ok, err := tx.PersonState(ctx, p.BackfillOf); err != nil {
				return err
			} else if !ok {
				return domain.ErrBackfillNotFound.With("backfill_of", domain.PersonPattern.Format(p.BackfillOf))
			}
		case domain.FieldRequiredSkills:
			missing, err := tx.MissingSkills(ctx, p.RequiredSkills)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				return domain.ErrSkillNotFound.With("skill", domain.SkillPattern.Format(missing[0]))
			}
		}
	}
	return nil
}

// positionAction runs a change of state of a position in one transaction, once per request ID:
// change applies it to the position read with its row kept, and event builds the event of the
// position after it.
func (s *Server) positionAction(ctx context.Context, method string, req interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}, change func(ctx context.Context, tx store.Tx, p *domain.Position) error, event func(*talentv1.Position, int64) sqlstore.Event) (*talentv1.Position, error) {
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*talentv1.Position, error) {
		p, err := names.Get(ctx, domain.PositionPattern, req.GetName(), tx.GetPosition)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, positionToProto(p)
		if err := change(ctx, tx, p); err != nil {
			return nil, err
		}
		if err := tx.UpdatePosition(ctx, p, prev); err != nil {
			return nil, err
		}
		after := positionToProto(p)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: event(after, p.Version)})
	})
}

// SubmitPosition implements talentv1.TalentServiceServer: the caller's principal becomes the
// requester, who cannot approve.
func (s *Server) SubmitPosition(ctx context.Context, req *talentv1.SubmitPositionRequest) (*talentv1.Position, error) {
	requester, now := identity.Owner(ctx), s.now()
	return s.positionAction(ctx, talentv1.TalentService_SubmitPosition_FullMethodName, req,
		func(_ context.Context, _ store.Tx, p *domain.Position) error { return p.Submit(requester, now) },
		func(pb *talentv1.Position, v int64) sqlstore.Event {
			return &talentv1.PositionSubmitted{Position: pb, Version: v}
		})
}

// RejectPosition implements talentv1.TalentServiceServer: back to DRAFT, by someone other than
// the requester.
func (s *Server) RejectPosition(ctx context.Context, req *talentv1.RejectPositionRequest) (*talentv1.Position, error) {
	approver, now := identity.Owner(ctx), s.now()
	return s.positionAction(ctx, talentv1.TalentService_RejectPosition_FullMethodName, req,
		func(_ context.Context, _ store.Tx, p *domain.Position) error { return p.Reject(approver, now) },
		func(pb *talentv1.Position, v int64) sqlstore.Event {
			return &talentv1.PositionRejected{Position: pb, Reason: req.GetReason(), Version: v}
		})
}

// OfferPosition implements talentv1.TalentServiceServer.
func (s *Server) OfferPosition(ctx context.Context, req *talentv1.OfferPositionRequest) (*talentv1.Position, error) {
	now := s.now()
	return s.positionAction(ctx, talentv1.TalentService_OfferPosition_FullMethodName, req,
		func(_ context.Context, _ store.Tx, p *domain.Position) error { return p.Offer(now) },
		func(pb *talentv1.Position, v int64) sqlstore.Event {
			return &talentv1.PositionOffered{Position: pb, Version: v}
		})
}

// FillPosition implements talentv1.TalentServiceServer: links the person, who starts on the
// request's start date or else their own, and records the time to fill. Budget moves the
// position's commitment to that start when it reads position.filled.
func (s *Server) FillPosition(ctx context.Context, req *talentv1.FillPositionRequest) (*talentv1.Position, error) {
	now := s.now()
	personID := idOf(domain.PersonPattern, req.GetPerson())
	return s.positionAction(ctx, talentv1.TalentService_FillPosition_FullMethodName, req,
		func(ctx context.Context, tx store.Tx, p *domain.Position) error {
			person, err := tx.FillingPerson(ctx, personID)
			if err != nil {
				return err
			}
			start := person.Start
			if req.GetStartDate() != nil {
				if start, err = civil.FromProtoField(req.GetStartDate(), "start_date"); err != nil {
					return err
				}
			}
			return p.Fill(personID, start, now)
		},
		func(pb *talentv1.Position, v int64) sqlstore.Event {
			return &talentv1.PositionFilled{Position: pb, Version: v}
		})
}

// CancelPosition implements talentv1.TalentServiceServer. Budget releases an approved
// position's commitment when it reads position.cancelled.
func (s *Server) CancelPosition(ctx context.Context, req *talentv1.CancelPositionRequest) (*talentv1.Position, error) {
	now := s.now()
	return s.positionAction(ctx, talentv1.TalentService_CancelPosition_FullMethodName, req,
		func(_ context.Context, _ store.Tx, p *domain.Position) error { return p.Cancel(req.GetReason(), now) },
		func(pb *talentv1.Position, v int64) sqlstore.Event {
			return &talentv1.PositionCancelled{Position: pb, Version: v}
		})
}

// ApprovePosition implements talentv1.TalentServiceServer (see the protocol above).
func (s *Server) ApprovePosition(ctx context.Context, req *talentv1.ApprovePositionRequest) (*talentv1.Position, error) {
	const method = talentv1.TalentService_ApprovePosition_FullMethodName
	approver := identity.Owner(ctx)
	p, err := names.Get(ctx, domain.PositionPattern, req.GetName(), s.store.GetPosition)
	if err != nil {
		return nil, err
	}
	var hold *budgetv1.Hold
	if p.State == domain.PositionPendingApproval || req.GetRequestId() == "" {
		// A position no longer pending with a request ID may be this very request's, retried
		// after it committed: the transaction then answers with the first response and places
		// nothing. Otherwise the transaction's own checks are taken early, so that a refused
		// approval does not touch budget.
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		if err := p.CheckDecidable(approver, "approve"); err != nil {
			return nil, err
		}
		team, err := s.store.GetTeam(ctx, p.TeamID)
		if err != nil {
			return nil, err
		}
		if team.CostCenter == "" {
			return nil, domain.ErrTeamHasNoCostCenter.With("team", team.Name())
		}
		line, err := s.labourLine(ctx, team.CostCenter, p.TargetStart)
		if err != nil {
			return nil, err
		}
		if hold, err = s.placeHold(ctx, p, line, req.GetRequestId()); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out, err := idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*talentv1.Position, error) {
		p, err := names.Get(ctx, domain.PositionPattern, req.GetName(), tx.GetPosition)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		if err := p.CheckDecidable(approver, "approve"); err != nil {
			return nil, err
		}
		if hold == nil {
			// Pending again since the first read (rejected and resubmitted): approve once more.
			return nil, domain.ErrPositionInvalidTransition.With("name", p.Name()).With("state", p.State.String())
		}
		if left := hold.GetExpireTime().AsTime().Sub(s.now()); left < holdMargin {
			return nil, domain.ErrHoldExpiring.With("hold", hold.GetName()).With("expire_time", hold.GetExpireTime().AsTime().Format(time.RFC3339))
		}
		line, _ := domain.HoldLine(hold.GetName())
		prev, before := p.Version, positionToProto(p)
		if err := p.Approve(approver, line, hold.GetName(), now); err != nil {
			return nil, err
		}
		if err := tx.UpdatePosition(ctx, p, prev); err != nil {
			return nil, err
		}
		after := positionToProto(p)
		// The approval and the opening are two events of one change; each has a version of
		// its own (domain.Position.Approve counts two), so that consumers order them.
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &talentv1.PositionApproved{Position: after, Hold: hold.GetName(), Version: p.Version - 1}}); err != nil {
			return nil, err
		}
		return after, tx.Emit(ctx, p.Name(), &talentv1.PositionOpened{Position: after, Version: p.Version})
	})
	if err != nil && hold != nil {
		s.releaseUnused(ctx, req.GetName(), hold, err)
	}
	return out, err
}

// labourLine is the internal-labour line, in budget, of the cost centre's approved budget whose
// fiscal year holds start, asked for the caller. No such budget, or no single such line, is
// FAILED_PRECONDITION; budget down is UNAVAILABLE; a caller who may not read budget gets
// PEER_REFUSED.
func (s *Server) labourLine(ctx context.Context, costCenter string, start civil.Date) (string, error) {
	bs, err := s.budget.ListBudgets(ctx, &budgetv1.ListBudgetsRequest{PageSize: 1000,
		Filter: fmt.Sprintf("cost_center = %q AND state = APPROVED", costCenter)})
	if err != nil {
		return "", peer.WithFacts(err)
	}
	var budget *budgetv1.Budget
	for _, b := range bs.GetBudgets() {
		first := civil.FromProto(b.GetFiscalYearStartDate())
		if !start.Before(first) && start.Before(first.AddMonths(12)) {
			budget = b
			break
		}
	}
	if budget == nil {
		return "", domain.ErrNoLabourBudget.With("cost_center", costCenter).With("target_start_date", start.String())
	}
	ls, err := s.budget.ListBudgetLines(ctx, &budgetv1.ListBudgetLinesRequest{Parent: budget.GetName(), PageSize: 2,
		Filter: "category = INTERNAL_LABOUR"})
	if err != nil {
		return "", peer.WithFacts(err)
	}
	if len(ls.GetBudgetLines()) != 1 {
		return "", domain.ErrNoLabourLine.With("budget", budget.GetName()).With("lines", fmt.Sprint(len(ls.GetBudgetLines())))
	}
	return ls.GetBudgetLines()[0].GetName(), nil
}

// holdRequestID is the request ID of the hold an approval with requestID places for the
// position named name: UUIDv5 of the approval's request ID in a namespace of the position, so a
// retried approval finds the hold its first attempt placed. An approval without a request ID
// places a hold of its own.
func holdRequestID(name, requestID string) string {
	if requestID == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(uuid.NewSHA1(uuid.NameSpaceURL, []byte("quarterdeck:talent:"+name)), []byte(requestID)).String()
}

// placeHold holds position p's budgeted annual cost over a year from its target start on line,
// acting for the caller; budget holds the part up to the fiscal year's end.
func (s *Server) placeHold(ctx context.Context, p *domain.Position, line, requestID string) (*budgetv1.Hold, error) {
	from, to := domain.LabourYear(p.TargetStart)
	h, err := s.budget.PlaceHold(ctx, &budgetv1.PlaceHoldRequest{
		Parent: line,
		Hold: &budgetv1.Hold{
			Amount:           money.ToProto(p.AnnualCost),
			ServiceStartDate: civil.ToProto(from),
			ServiceEndDate:   civil.ToProto(to),
			Source:           budgetv1.Commitment_POSITION,
			SourceReference:  p.Name(),
			Description:      p.Title,
			Ttl:              durationpb.New(s.holdTTL),
		},
		RequestId: holdRequestID(p.Name(), requestID),
	})
	if err != nil {
		return nil, peer.WithFacts(err)
	}
	return h, nil
}

// releaseUnused releases, best effort, the hold an approval of the position named name placed
// and then failed with cause to use. A hold the position names after all (a concurrent retry of
// the same approval committed with it) is left alone; a failed release leaves the hold to its
// expiry.
func (s *Server) releaseUnused(ctx context.Context, name string, hold *budgetv1.Hold, cause error) {
	if hold.GetState() != budgetv1.Hold_HELD {
		return
	}
	if p, err := names.Get(ctx, domain.PositionPattern, name, s.store.GetPosition); err == nil && p.Hold == hold.GetName() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	reason := "INTERNAL"
	if fe := fault.As(cause); fe != nil && fe.Reason != "" {
		reason = fe.Reason
	}
	_, err := s.budget.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: hold.GetName(),
		Reason:    "the approval of " + name + " failed: " + reason,
		RequestId: uuid.NewSHA1(uuid.NameSpaceURL, []byte("quarterdeck:talent:release:"+hold.GetName())).String()})
	if err != nil {
		s.log.WarnContext(ctx, "release of an unused hold failed; it lapses at its expiry", "hold", hold.GetName(),
			"position", name, "error", err)
	}
}

// positionFields reads the client-writable fields of p; only the money can be malformed beyond
// what the API's rules check.
func positionFields(p *talentv1.Position) (domain.PositionFields, error) {
	f := domain.PositionFields{
		TeamID:      idOf(domain.TeamPattern, p.GetTeam()),
		Title:       p.GetTitle(),
		Level:       p.GetLevel(),
		TargetStart: civil.FromProto(p.GetTargetStartDate()),
		Reason:      domain.PositionReason(p.GetReason()),
		BackfillOf:  idOf(domain.PersonPattern, p.GetBackfillOf()),
		Description: p.GetDescription(),
	}
	for _, s := range p.GetRequiredSkills() {
		f.RequiredSkills = append(f.RequiredSkills, idOf(domain.SkillPattern, s))
	}
	if p.GetBudgetedAnnualCost() != nil {
		a, err := money.FromProtoField(p.GetBudgetedAnnualCost(), "", domain.FieldAnnualCost)
		if err != nil {
			return f, err
		}
		f.AnnualCost = a
	}
	return f, nil
}

// positionToProto is the position as the API shows it. The budgeted annual cost is the
// position's budget, not a person's pay: it is shown to every reader (ADR 0013).
func positionToProto(p *domain.Position) *talentv1.Position {
	pb := &talentv1.Position{
		Name:               p.Name(),
		Team:               domain.TeamName(p.TeamID),
		Title:              p.Title,
		Level:              p.Level,
		BudgetedAnnualCost: money.ToProto(p.AnnualCost),
		TargetStartDate:    civil.ToProto(p.TargetStart),
		Reason:             talentv1.Position_Reason(p.Reason),
		Description:        p.Description,
		State:              talentv1.Position_State(p.State),
		Requester:          p.Requester,
		Approver:           p.Approver,
		BudgetLine:         p.BudgetLine,
		Hold:               p.Hold,
		OpenTime:           ts(p.OpenTime),
		FillTime:           ts(p.FillTime),
		TimeToFillDays:     p.TimeToFillDays,
		CancelReason:       p.CancelReason,
		CreateTime:         ts(p.CreateTime),
		UpdateTime:         ts(p.UpdateTime),
		Etag:               etag.Of(p.Name(), p.Version),
	}
	for _, s := range p.RequiredSkills {
		pb.RequiredSkills = append(pb.RequiredSkills, domain.SkillPattern.Format(s))
	}
	if p.BackfillOf != "" {
		pb.BackfillOf = domain.PersonPattern.Format(p.BackfillOf)
	}
	if p.PersonID != "" {
		pb.Person = domain.PersonPattern.Format(p.PersonID)
	}
	if !p.StartDate.IsZero() {
		pb.StartDate = civil.ToProto(p.StartDate)
	}
	return pb
}
