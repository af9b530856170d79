package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// The handlers of a contract's due items (store.ScheduleContract declares them). Each reads the
// contract in the worker's transaction and acts only when the item still describes it — in
// force, and due when the contract's current dates say — so an item left over from dates that
// moved does nothing.

// firedContract locks the contract an item of kind is about; nil when it is gone, not in force,
// or no longer due at the item's time.
func firedContract(ctx context.Context, tx store.Tx, item scheduler.Fired, kind string) (*domain.Contract, error) {
	var vendorID, id string
	if !domain.ContractPattern.ScanResource(item.Resource, &vendorID, &id) {
		return nil, scheduler.Permanent(fmt.Errorf("%s item %q: not a contract name", kind, item.Resource))
	}
	c, err := tx.GetContract(ctx, vendorID, id)
	if errors.Is(err, domain.ErrContractNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !c.State.InForce() || !store.ContractItemDue(c, kind).Equal(item.Due) {
		return nil, nil
	}
	if kind != store.ContractTermEndKind && !c.AutoRenew {
		return nil, nil
	}
	return c, nil
}

// NoticeWindowOpened is the scheduler.Handler of store.ContractNoticeWindowKind: it publishes
// contract.notice_window_opened at the start of the day the notice window of an auto-renewing
// contract in force opens.
func (s *Server) NoticeWindowOpened(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	tx := store.Join(t)
	c, err := firedContract(ctx, tx, item, store.ContractNoticeWindowKind)
	if c == nil || err != nil {
		return err
	}
	if err := bumpVersion(ctx, tx, c, item); err != nil {
		return err
	}
	return tx.Emit(ctx, c.Name(), &vendorsv1.ContractNoticeWindowOpened{Contract: contractToProto(c),
		CancelByDate: civil.ToProto(c.CancelByDate), DueTime: timestamppb.New(item.Due),
		FireTime: timestamppb.New(item.FiredAt), Version: c.Version})
}

// bumpVersion gives the contract the version of a calendar event about it, which changes
// nothing else: a consumer skips an event whose resource version it has applied already, so an
// event that reused the version of the contract's last change would be skipped by every consumer
// of the contract's events that applied that change. Its items are declared again as they are;
// the one firing does not fire again.
func bumpVersion(ctx context.Context, tx store.Tx, c *domain.Contract, item scheduler.Fired) error {
	prev := c.Version
	c.Version++
	return tx.UpdateContract(ctx, c, prev, civil.DateOf(item.Due.UTC()))
}

// CancelByMissed is the scheduler.Handler of store.ContractCancelByKind: it publishes
// contract.cancel_by_missed at the start of the day after the cancel-by date of an auto-renewing
// contract still in force.
func (s *Server) CancelByMissed(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	tx := store.Join(t)
	c, err := firedContract(ctx, tx, item, store.ContractCancelByKind)
	if c == nil || err != nil {
		return err
	}
	if err := bumpVersion(ctx, tx, c, item); err != nil {
		return err
	}
	return tx.Emit(ctx, c.Name(), &vendorsv1.ContractCancelByMissed{Contract: contractToProto(c),
		CancelByDate: civil.ToProto(c.CancelByDate), DueTime: timestamppb.New(item.Due),
		FireTime: timestamppb.New(item.FiredAt), Version: c.Version})
}

// TermEnded is the scheduler.Handler of store.ContractTermEndKind: at the start of the day after
// a contract's end date, an auto-renewing contract renews for its renewal term (RENEWED, a new
// end date, the next term's items declared, contract.auto_renewed with the term's value) and any
// other expires (EXPIRED, contract.expired).
func (s *Server) TermEnded(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	tx := store.Join(t)
	c, err := firedContract(ctx, tx, item, store.ContractTermEndKind)
	if c == nil || err != nil {
		return err
	}
	prev, before := c.Version, contractToProto(c)
	previousEnd := c.EndDate
	var event sqlstore.Event
	if c.AutoRenew {
		termStart, err := c.Renew(s.defaultWindow(), s.now())
		if err != nil {
			return err
		}
		event = &vendorsv1.ContractAutoRenewed{PreviousEndDate: civil.ToProto(previousEnd),
			TermStartDate: civil.ToProto(termStart), TermEndDate: civil.ToProto(c.EndDate),
			TermValue: money.ToProto(c.RenewalValue()), BudgetLine: c.BudgetLine,
			DueTime: timestamppb.New(item.Due), FireTime: timestamppb.New(item.FiredAt), Version: c.Version}
	} else {
		if err := c.Expire(s.now()); err != nil {
			return err
		}
		event = &vendorsv1.ContractExpired{BudgetLine: c.BudgetLine, EffectiveDate: civil.ToProto(previousEnd),
			DueTime: timestamppb.New(item.Due), FireTime: timestamppb.New(item.FiredAt), Version: c.Version}
	}
	// The next term's items are declared as of the day the term starts, not the worker's lag.
	if err := tx.UpdateContract(ctx, c, prev, previousEnd.AddDays(1)); err != nil {
		return err
	}
	after := contractToProto(c)
	switch e := event.(type) {
	case *vendorsv1.ContractAutoRenewed:
		e.Contract = after
	case *vendorsv1.ContractExpired:
		e.Contract = after
	}
	return tx.Record(ctx, sqlstore.Change{Action: audit.Update, Resource: c.Name(), Before: before, After: after, Event: event})
}
