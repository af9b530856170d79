package server

import (
	"context"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// An approval follows ADR 0010: a hold of the contract's total value on its budget line first,
// placed through the peer connection for the caller (who needs budget.spend for it); then, in
// one transaction, the contract ACTIVE with the hold's name, its due items and
// contract.activated, from which budget converts the hold into the commitment. A hold the
// transaction does not use is released at once, best effort; its expiry is the backstop.

// holdMargin is how long a hold must still live when the contract that names it commits: budget
// must be able to read contract.activated before the hold lapses.
const holdMargin = time.Minute

// releaseTimeout bounds the best-effort release of a hold that an approval did not use.
const releaseTimeout = 5 * time.Second

// holdRequestID is the request ID of the hold an approval with requestID places for the
// contract named name: UUIDv5 of the approval's request ID in a namespace of the contract, so a
// retried approval finds the hold its first attempt placed. An approval without a request ID
// places a hold of its own.
func holdRequestID(name, requestID string) string {
	if requestID == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(uuid.NewSHA1(uuid.NameSpaceURL, []byte("quarterdeck:vendors:"+name)), []byte(requestID)).String()
}

// ApproveContract implements vendorsv1.VendorsServiceServer.
func (s *Server) ApproveContract(ctx context.Context, req *vendorsv1.ApproveContractRequest) (*vendorsv1.Contract, error) {
	const method = vendorsv1.VendorsService_ApproveContract_FullMethodName
	approver := identity.Owner(ctx)
	c, err := getContract(ctx, s.store.GetContract, req.GetName())
	if err != nil {
		return nil, err
	}
	var hold *budgetv1.Hold
	if c.State == domain.ContractPendingApproval || req.GetRequestId() == "" {
		// A contract no longer pending with a request ID may be this very request's, retried
		// after it committed: the transaction then answers with the first response and places
		// nothing. Otherwise the checks before the hold are the transaction's own, taken early
		// so that a refused approval does not touch budget.
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		if err := c.CheckApprovable(approver); err != nil {
			return nil, err
		}
		v, err := s.store.GetVendor(ctx, c.VendorID)
		if err != nil {
			return nil, err
		}
		if err := checkVendorActive(v); err != nil {
			return nil, err
		}
		if hold, err = s.placeHold(ctx, c, req.GetRequestId()); err != nil {
			return nil, err
		}
	}
	today := s.today()
	out, err := idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Contract, error) {
		c, err := getContract(ctx, tx.GetContract, req.GetName())
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		if err := c.CheckApprovable(approver); err != nil {
			return nil, err
		}
		v, err := tx.LockVendor(ctx, c.VendorID)
		if err != nil {
			return nil, err
		}
		if err := checkVendorActive(v); err != nil {
			return nil, err
		}
		if hold == nil {
			// Pending again since the first read (rejected and resubmitted): approve once more.
			return nil, domain.ErrContractInvalidTransition.With("name", c.Name()).With("state", c.State.String())
		}
		if left := hold.GetExpireTime().AsTime().Sub(s.now()); left < holdMargin {
			return nil, domain.ErrHoldExpiring.With("hold", hold.GetName()).With("expire_time", hold.GetExpireTime().AsTime().Format(time.RFC3339))
		}
		prev, before := c.Version, contractToProto(c)
		if err := c.Approve(approver, hold.GetName(), s.now()); err != nil {
			return nil, err
		}
		if err := tx.UpdateContract(ctx, c, prev, today); err != nil {
			return nil, err
		}
		after := contractToProto(c)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &vendorsv1.ContractActivated{Contract: after, Hold: hold.GetName(), BudgetLine: c.BudgetLine,
				CommittedValue: money.ToProto(c.TotalValue), ServiceStartDate: civil.ToProto(c.StartDate),
				ServiceEndDate: civil.ToProto(c.EndDate), Version: c.Version}})
	})
	if err != nil && hold != nil {
		s.releaseUnused(ctx, req.GetName(), hold, err)
	}
	return out, err
}

// checkVendorActive refuses an approval for a vendor that is not ACTIVE.
func checkVendorActive(v *domain.Vendor) error {
	if v.State != domain.VendorActive {
		return domain.ErrContractVendorNotOpen.With("vendor", v.Name()).With("vendor_state", v.State.String())
	}
	return nil
}

// placeHold holds contract c's total value on its budget line for its term, acting for the
// caller. A refusal is FAILED_PRECONDITION, PEER_REFUSED, carrying budget's reason (peer_reason,
// e.g. INSUFFICIENT_FUNDS) and the facts budget gave (the line, the available and the requested
// amount); budget down is UNAVAILABLE, PEER_UNAVAILABLE: nothing changed, try again.
func (s *Server) placeHold(ctx context.Context, c *domain.Contract, requestID string) (*budgetv1.Hold, error) {
	h, err := s.budget.PlaceHold(ctx, &budgetv1.PlaceHoldRequest{
		Parent: c.BudgetLine,
		Hold: &budgetv1.Hold{
			Amount:           money.ToProto(c.TotalValue),
			ServiceStartDate: civil.ToProto(c.StartDate),
			ServiceEndDate:   civil.ToProto(c.EndDate),
			Source:           budgetv1.Commitment_CONTRACT,
			SourceReference:  c.Name(),
			Description:      c.Title,
			Ttl:              durationpb.New(s.cfg.HoldTTL),
		},
		RequestId: holdRequestID(c.Name(), requestID),
	})
	if err != nil {
		return nil, peer.WithFacts(err)
	}
	return h, nil
}

// releaseUnused releases, best effort, the hold an approval of the contract named name placed
// and then failed with cause to use. A hold the contract names after all (a concurrent retry of
// the same approval committed with it) is left alone; a release that fails leaves the hold to
// its expiry.
func (s *Server) releaseUnused(ctx context.Context, name string, hold *budgetv1.Hold, cause error) {
	if hold.GetState() != budgetv1.Hold_HELD {
		return
	}
	if c, err := getContract(ctx, s.store.GetContract, name); err == nil && c.Hold == hold.GetName() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_, err := s.budget.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: hold.GetName(),
		Reason:    "the approval of " + name + " failed: " + reasonOf(cause),
		RequestId: uuid.NewSHA1(uuid.NameSpaceURL, []byte("quarterdeck:vendors:release:"+hold.GetName())).String()})
	if err != nil {
		s.log.WarnContext(ctx, "release of an unused hold failed; it lapses at its expiry", "hold", hold.GetName(),
			"contract", name, "error", err)
	}
}

// reasonOf is the reason of err for a log or a record: its fault reason, or INTERNAL.
func reasonOf(err error) string {
	if fe := fault.As(err); fe != nil && fe.Reason != "" {
		return fe.Reason
	}
	return "INTERNAL"
}
