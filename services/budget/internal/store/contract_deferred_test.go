package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
)

// runDeferred is the contract suite's part on the commitments deferred to a later budget.
func runDeferred(t *testing.T, open opener) {
	deferred := func(id, ref string, fy int32) *domain.DeferredCommitment {
		return &domain.DeferredCommitment{
			ID: id, CostCenterID: "infra", FiscalYear: fy, LineID: "l1", Amount: domain.Amount{Minor: 36_500, Currency: "USD"},
			ServiceStart: domain.Date{Year: 2027, Month: time.February, Day: 1}, ServiceEnd: domain.Date{Year: 2028, Month: time.January, Day: 31},
			Source: domain.CommitmentContract, SourceRef: ref, Description: "renewal of " + ref,
			CreateTime: t0.Add(time.Duration(len(id)) * time.Second),
		}
	}

	t.Run("deferred commitments are kept once, read per budget, deleted and dropped", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		a, b, c := deferred("d-a", "vendors/acme/contracts/crm", 2028), deferred("d-bb", "vendors/acme/contracts/crm", 2029),
			deferred("d-ccc", "vendors/acme/contracts/erp", 2028)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, d := range []*domain.DeferredCommitment{a, b, c} {
				if added, err := tx.DeferCommitment(ctx, d); err != nil || !added {
					t.Errorf("defer %s = %v, %v; want added", d.ID, added, err)
				}
			}
			// A copy (a redelivered renewal) adds nothing and changes nothing.
			copyA := *a
			copyA.Amount.Minor = 1
			if added, err := tx.DeferCommitment(ctx, &copyA); err != nil || added {
				t.Errorf("defer a copy of %s = %v, %v; want not added", a.ID, added, err)
			}
			return nil
		})
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			got, err := tx.DeferredCommitments(ctx, "infra", 2028)
			if err != nil {
				return err
			}
			equal(t, "deferred to infra's FY2028", got, []*domain.DeferredCommitment{a, c})
			one, err := tx.GetDeferredCommitment(ctx, "infra", b.ID)
			if err != nil {
				return err
			}
			equal(t, "deferred commitment "+b.ID, one, b)
			if _, err := tx.GetDeferredCommitment(ctx, "other", b.ID); !errors.Is(err, domain.ErrDeferredCommitmentNotFound) {
				t.Errorf("deferred commitment %s of another cost centre: %v; want not found", b.ID, err)
			}
			if err := tx.DeleteDeferredCommitment(ctx, a.ID); err != nil {
				return err
			}
			n, err := tx.DropDeferredCommitments(ctx, "vendors/acme/contracts/crm")
			if err != nil {
				return err
			}
			equal(t, "dropped for crm", n, int64(1))
			for fy, want := range map[int32][]*domain.DeferredCommitment{2028: {c}, 2029: nil} {
				got, err := tx.DeferredCommitments(ctx, "infra", fy)
				if err != nil {
					return err
				}
				equal(t, "deferred after delete and drop", got, want)
			}
			return nil
		})
		if err := withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteDeferredCommitment(ctx, a.ID) }); err == nil {
			t.Error("deleting a deferred commitment twice succeeded")
		}
		if _, err := s.GetDeferredCommitment(context.Background(), "infra", a.ID); !errors.Is(err, domain.ErrDeferredCommitmentNotFound) {
			t.Errorf("deferred commitment %s after its deletion: %v; want not found", a.ID, err)
		}
	})
	t.Run("deferred actuals are kept once, read invoices first, and deleted", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		actual := func(id string, minor int64, fy int32, at time.Duration) *domain.DeferredActual {
			return &domain.DeferredActual{
				ID: id, CostCenterID: "infra", FiscalYear: fy, LineID: "l1", Amount: domain.Amount{Minor: minor, Currency: "USD"},
				BookingDate: domain.Date{Year: 2027, Month: time.May, Day: 10}, Description: "Invoice " + id,
				SourceRef: "vendors/acme/contracts/crm/invoices/" + id, Contract: "vendors/acme/contracts/crm",
				CreateTime: t0.Add(at),
			}
		}
		// The credit note a came first; the invoices b and c after it.
		a, b, c, d := actual("a-credit", -500, 2028, 1*time.Second), actual("b-inv", 1_000, 2028, 2*time.Second),
			actual("c-inv", 2_000, 2028, 3*time.Second), actual("d-inv", 3_000, 2029, time.Second)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, x := range []*domain.DeferredActual{a, b, c, d} {
				if added, err := tx.DeferActual(ctx, x); err != nil || !added {
					t.Errorf("defer %s = %v, %v; want added", x.ID, added, err)
				}
			}
			copyB := *b
			copyB.Amount.Minor = 1
			if added, err := tx.DeferActual(ctx, &copyB); err != nil || added {
				t.Errorf("defer a copy of %s = %v, %v; want not added", b.ID, added, err)
			}
			return nil
		})
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			got, err := tx.DeferredActuals(ctx, "infra", 2028)
			if err != nil {
				return err
			}
			equal(t, "deferred to infra's FY2028", got, []*domain.DeferredActual{b, c, a})
			one, err := tx.GetDeferredActual(ctx, "infra", d.ID)
			if err != nil {
				return err
			}
			equal(t, "deferred actual "+d.ID, one, d)
			if _, err := tx.GetDeferredActual(ctx, "other", d.ID); !errors.Is(err, domain.ErrDeferredActualNotFound) {
				t.Errorf("deferred actual %s of another cost centre: %v; want not found", d.ID, err)
			}
			return tx.DeleteDeferredActual(ctx, b.ID)
		})
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			got, err := tx.DeferredActuals(ctx, "infra", 2028)
			if err != nil {
				return err
			}
			equal(t, "deferred to infra's FY2028 after a delete", got, []*domain.DeferredActual{c, a})
			return nil
		})
		if err := withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteDeferredActual(ctx, b.ID) }); err == nil {
			t.Error("deleting a deferred actual twice succeeded")
		}
		if _, err := s.GetDeferredActual(context.Background(), "infra", b.ID); !errors.Is(err, domain.ErrDeferredActualNotFound) {
			t.Errorf("deferred actual %s after its deletion: %v; want not found", b.ID, err)
		}
	})
}
