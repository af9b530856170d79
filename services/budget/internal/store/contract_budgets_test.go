package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"google.golang.org/protobuf/proto"
)

// within runs fn in a transaction of s and fails the test on an error.
func within(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := s.Within(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func withinErr(s store.Store, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.Within(context.Background(), fn)
}

// fixture is a cost centre tree with one approved budget of two lines:
// infra → net → wan, and other; chain b1 (infra, FY2027) has revision b1 in force.
type fixture struct {
	chain  *domain.Chain
	budget *domain.Budget
	lines  []*domain.Line
}

func newChain(id, cc string, fy int32) *domain.Chain {
	return &domain.Chain{ID: id, CostCenterID: cc, FiscalYear: fy, Version: 1}
}

func newBudget(id, chain, cc string, fy, rev int32, state domain.State) *domain.Budget {
	return &domain.Budget{
		ID: id, ChainID: chain, Revision: rev, CostCenterID: cc, FiscalYear: fy, StartMonth: time.April,
		Currency: "EUR", DisplayName: "Budget " + id, Owner: "users/olga", Description: "plan", Policy: domain.PolicyBlock,
		State: state, PlannedMinor: 120000, CreateTime: t0, UpdateTime: t0.Add(time.Second), Version: 1,
	}
}

func newLine(budget, id string, cat domain.Category, et domain.ExpenseType) *domain.Line {
	return &domain.Line{
		ID: id, BudgetID: budget, DisplayName: "Line " + id, Category: cat, ExpenseType: et, PlannedMinor: 60000,
		Phasing:    domain.Phasing{Granularity: domain.Quarterly, Amounts: []int64{15000, 15000, 15000, 15000}},
		Thresholds: []int32{80, 100}, Tag: "tag-" + id, Description: "line", CreateTime: t0, UpdateTime: t0, Version: 1,
	}
}

func setup(t *testing.T, s store.Store) fixture {
	t.Helper()
	insert(t, s, newCC(t, "infra", "INFRA", ""), newCC(t, "net", "NET", "infra"), newCC(t, "wan", "WAN", "net"),
		newCC(t, "other", "OTHER", ""))
	f := fixture{chain: newChain("b1", "infra", 2027), budget: newBudget("b1", "b1", "infra", 2027, 1, domain.StateApproved)}
	f.chain.InForceID = "b1"
	f.lines = []*domain.Line{
		newLine("b1", "l1", domain.CategoryCloud, domain.Opex),
		newLine("b1", "l2", domain.CategoryHardware, domain.Capex),
	}
	within(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertChain(ctx, f.chain); err != nil {
			return err
		}
		if err := tx.InsertBudget(ctx, f.budget); err != nil {
			return err
		}
		for _, l := range f.lines {
			if err := tx.InsertLine(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	return f
}

func eurUSD() *domain.RateUse {
	return &domain.RateUse{RateID: "2026-05-usd-eur", Month: domain.Month{Year: 2026, Month: time.May}, Source: "USD",
		Target: "EUR", Value: "0.9215"}
}

func newActual(id, line string, minor, converted int64, date domain.Date, period int) *domain.Actual {
	return &domain.Actual{
		ID: id, BudgetID: "b1", ChainID: "b1", LineID: line, Amount: domain.Amount{Minor: minor, Currency: "EUR"},
		ConvertedMinor: converted, BookingDate: date, Period: period, Description: "actual " + id,
		Source: domain.SourceVendorInvoice, ExternalRef: "inv-" + id, Creator: "users/ada", CreateTime: t0,
	}
}

func newCommitment(id, line string, converted int64, period int) *domain.Commitment {
	return &domain.Commitment{
		ID: id, BudgetID: "b1", ChainID: "b1", LineID: line, Amount: domain.Amount{Minor: converted, Currency: "EUR"},
		ConvertedMinor: converted, RemainingMinor: converted, Date: domain.Date{Year: 2026, Month: time.June, Day: 30},
		Period: period, Description: "commitment " + id, Source: domain.CommitmentContract,
		SourceRef: "vendors/acme/contracts/" + id, State: domain.CommitmentOpen, Creator: "users/ada",
		CreateTime: t0, UpdateTime: t0, Version: 1,
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// pages lists through every page of a list, size at a time, and returns the IDs in order.
func pages[T any](t *testing.T, table *listing.Table[T], filter, orderBy string, size int32,
	fetch func(q *listing.Query) ([]T, error), id func(T) string) []string {
	t.Helper()
	// Any request with filter and order_by plans a list; the cost-centre request is at hand.
	req := &budgetv1.ListCostCentersRequest{Filter: filter, OrderBy: orderBy, PageSize: size}
	var ids []string
	for page := 0; ; page++ {
		q, err := listing.Plan(req, table.Resource)
		if err != nil {
			t.Fatalf("plan %q %q: %v", filter, orderBy, err)
		}
		items, err := fetch(q)
		if err != nil {
			t.Fatalf("list %q %q: %v", filter, orderBy, err)
		}
		if page > 20 {
			t.Fatal("too many pages")
		}
		items, token := listing.Page(q, items, table.Value)
		for _, it := range items {
			ids = append(ids, id(it))
		}
		if token == "" {
			return ids
		}
		req = proto.CloneOf(req)
		req.PageToken = token
	}
}

type listCase struct {
	filter, orderBy string
	want            []string
}

func checkList[T any](t *testing.T, table *listing.Table[T], cases []listCase,
	fetch func(q *listing.Query) ([]T, error), id func(T) string) {
	t.Helper()
	for _, c := range cases {
		for _, size := range []int32{1, 2, 50} {
			got := pages(t, table, c.filter, c.orderBy, size, fetch, id)
			if !slices.Equal(got, c.want) {
				t.Errorf("filter %q order %q size %d: %v, want %v", c.filter, c.orderBy, size, got, c.want)
			}
		}
	}
}

func runBudgets(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("budgets and chains round-trip every field", func(t *testing.T) {
		s, _ := open(t)
		f := setup(t, s)
		got, err := s.GetBudget(ctx, "b1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "budget without decision times", got, f.budget)

		b := *f.budget
		b.PreviousID, b.SupersededByID = "b0", "b2"
		b.Submitter, b.SubmitTime = "users/sam", t0.Add(time.Hour+123*time.Microsecond)
		b.Decider, b.DecisionTime, b.DecisionReason = "users/dee", t0.Add(2*time.Hour), "fine"
		b.Closer, b.CloseTime = "users/cy", t0.Add(3*time.Hour)
		b.State, b.Version = domain.StateClosed, 2
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			if _, err := tx.GetBudget(ctx, "b1"); err != nil {
				return err
			}
			return tx.UpdateBudget(ctx, &b, 1)
		})
		got, _ = s.GetBudget(ctx, "b1")
		equal(t, "budget with every field", got, &b)
		if got.SubmitTime.Location() != time.UTC || got.CreateTime.Location() != time.UTC {
			t.Errorf("times not UTC: %v %v", got.SubmitTime.Location(), got.CreateTime.Location())
		}
		// Clearing the times stores NULLs again.
		b2 := *f.budget
		b2.Version = 3
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateBudget(ctx, &b2, 2) })
		got, _ = s.GetBudget(ctx, "b1")
		equal(t, "budget after clearing", got, &b2)

		c, err := s.GetChain(ctx, "b1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "chain", c, f.chain)
		next := *c
		next.OpenID, next.InForceID, next.ForecastOverPlan, next.Version = "b2", "", true, 2
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateChain(ctx, &next, 1) })
		c, _ = s.GetChain(ctx, "b1")
		equal(t, "chain after update", c, &next)
	})

	t.Run("missing, duplicate and stale budgets and chains", func(t *testing.T) {
		s, _ := open(t)
		f := setup(t, s)
		if _, err := s.GetBudget(ctx, "nope"); !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("get missing budget: %v", err)
		}
		if _, err := s.GetChain(ctx, "nope"); !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("get missing chain: %v", err)
		}
		err := withinErr(s, func(ctx context.Context, tx store.Tx) error { _, err := tx.LockChain(ctx, "nope"); return err })
		if !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("lock missing chain: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { _, err := tx.GetBudget(ctx, "nope"); return err })
		if !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("tx get missing budget: %v", err)
		}
		// One chain per cost centre and fiscal year.
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error {
			return tx.InsertChain(ctx, newChain("b9", "infra", 2027))
		})
		if !errors.Is(err, domain.ErrBudgetExists) {
			t.Errorf("second chain for the pair: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error {
			return tx.InsertChain(ctx, newChain("b9", "ghost", 2027))
		})
		if !errors.Is(err, domain.ErrCostCenterNotFound) {
			t.Errorf("chain of a missing cost centre: %v", err)
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.InsertChain(ctx, newChain("b9", "infra", 2028))
		})
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.InsertBudget(ctx, f.budget) })
		if !errors.Is(err, domain.ErrBudgetExists) {
			t.Errorf("duplicate budget ID: %v", err)
		}
		stale := *f.budget
		stale.Version = 2
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateBudget(ctx, &stale, 7) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale budget update: %v", err)
		}
		staleChain := *f.chain
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateChain(ctx, &staleChain, 7) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale chain update: %v", err)
		}
		// A cost centre with budgets cannot be deleted.
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCostCenter(ctx, "wan", 1) })
		if err != nil {
			t.Errorf("delete leaf without budgets: %v", err)
		}
		insert(t, s, newCC(t, "solo", "SOLO", ""))
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertChain(ctx, newChain("b8", "solo", 2027)) })
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteCostCenter(ctx, "solo", 1) })
		if !errors.Is(err, domain.ErrCostCenterHasBudgets) {
			t.Errorf("delete cost centre with budgets: %v", err)
		}
	})

	t.Run("deleting a draft revision takes its lines, then its chain", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertChain(ctx, newChain("d1", "other", 2027)); err != nil {
				return err
			}
			if err := tx.InsertBudget(ctx, newBudget("d1", "d1", "other", 2027, 1, domain.StateDraft)); err != nil {
				return err
			}
			return tx.InsertLine(ctx, newLine("d1", "x", domain.CategoryOther, domain.Opex))
		})
		err := withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteChain(ctx, "d1", 1) })
		if err == nil {
			t.Error("deleted a chain that still has a revision")
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.DeleteBudget(ctx, "d1", 1); err != nil {
				return err
			}
			return tx.DeleteChain(ctx, "d1", 1)
		})
		if _, err := s.GetLine(ctx, "d1", "x"); !errors.Is(err, domain.ErrLineNotFound) {
			t.Errorf("line of a deleted budget: %v", err)
		}
		if _, err := s.GetChain(ctx, "d1"); !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("deleted chain: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteBudget(ctx, "d1", 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("second delete: %v", err)
		}
	})

	t.Run("list budgets filters by every field and pages", func(t *testing.T) {
		s, _ := open(t)
		insert(t, s, newCC(t, "a", "A", ""), newCC(t, "b", "B", ""))
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for i, spec := range []struct {
				id, cc string
				fy     int32
				rev    int32
				state  domain.State
			}{
				{"a27", "a", 2027, 1, domain.StateApproved}, {"a27r2", "a", 2027, 2, domain.StateDraft},
				{"a28", "a", 2028, 1, domain.StateDraft}, {"b27", "b", 2027, 1, domain.StateSubmitted},
			} {
				chain := spec.id
				if spec.rev == 1 {
					if err := tx.InsertChain(ctx, newChain(spec.id, spec.cc, spec.fy)); err != nil {
						return err
					}
				} else {
					chain = "a27"
				}
				b := newBudget(spec.id, chain, spec.cc, spec.fy, spec.rev, spec.state)
				b.CreateTime = t0.Add(time.Duration(i) * time.Minute)
				b.DisplayName = []string{"net", "net", "apps", "cloud"}[i]
				if spec.cc == "b" {
					b.Currency, b.Owner, b.Policy = "USD", "users/bob", domain.PolicyWarn
				}
				if err := tx.InsertBudget(ctx, b); err != nil {
					return err
				}
			}
			return nil
		})
		fetch := func(q *listing.Query) ([]*domain.Budget, error) { return s.ListBudgets(ctx, q) }
		id := func(b *domain.Budget) string { return b.ID }
		checkList(t, store.BudgetTable, []listCase{
			{"", "", []string{"a27", "a27r2", "a28", "b27"}},
			{`cost_center = "costCenters/a"`, "", []string{"a27", "a27r2", "a28"}},
			{`fiscal_year = 2027`, "name desc", []string{"b27", "a27r2", "a27"}},
			{`state = DRAFT`, "", []string{"a27r2", "a28"}},
			{`state != DRAFT AND currency_code = "EUR"`, "", []string{"a27"}},
			{`overspend_policy = WARN`, "", []string{"b27"}},
			{`owner = "users/bob" OR revision = 2`, "", []string{"a27r2", "b27"}},
			{`name = "budgets/a28"`, "", []string{"a28"}},
			{`create_time >= "2026-01-15T08:02:00Z"`, "", []string{"a28", "b27"}},
			{"", "display_name, fiscal_year desc", []string{"a28", "b27", "a27", "a27r2"}},
			{"", "revision desc, create_time desc", []string{"a27r2", "b27", "a28", "a27"}},
			{"", "cost_center desc, update_time", []string{"b27", "a27", "a27r2", "a28"}},
		}, fetch, id)
		for _, bad := range []string{`state = OPEN`, `cost_center = "infra"`, `name = "budgets/a/lines/b"`} {
			if _, err := listing.Plan(&budgetv1.ListCostCentersRequest{Filter: bad}, store.BudgetTable.Resource); err == nil {
				t.Errorf("filter %q accepted", bad)
			}
		}
	})

	t.Run("lines round-trip, list and version their changes", func(t *testing.T) {
		s, _ := open(t)
		f := setup(t, s)
		got, err := s.GetLine(ctx, "b1", "l1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "line", got, f.lines[0])
		monthly := newLine("b1", "l3", domain.CategorySoftware, domain.Opex)
		monthly.Phasing = domain.Phasing{Granularity: domain.Monthly, Amounts: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -9223372036854775807}}
		monthly.Thresholds = nil
		monthly.Tag = ""
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertLine(ctx, monthly) })
		got, _ = s.GetLine(ctx, "b1", "l3")
		equal(t, "monthly line without thresholds", got, monthly)

		if _, err := s.GetLine(ctx, "b1", "nope"); !errors.Is(err, domain.ErrLineNotFound) {
			t.Errorf("missing line: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.InsertLine(ctx, f.lines[0]) })
		if !errors.Is(err, domain.ErrLineExists) {
			t.Errorf("duplicate line: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.InsertLine(ctx, newLine("ghost", "l1", 1, 1)) })
		if !errors.Is(err, domain.ErrBudgetNotFound) {
			t.Errorf("line of a missing budget: %v", err)
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			l, err := tx.GetLine(ctx, "b1", "l2")
			if err != nil {
				return err
			}
			l.PlannedMinor, l.Phasing.Amounts, l.Thresholds, l.Version = 70000, []int64{25000, 15000, 15000, 15000}, []int32{50}, 2
			return tx.UpdateLine(ctx, l, 1)
		})
		got, _ = s.GetLine(ctx, "b1", "l2")
		if got.PlannedMinor != 70000 || got.Phasing.Amounts[0] != 25000 || !slices.Equal(got.Thresholds, []int32{50}) || got.Version != 2 {
			t.Errorf("after update: %+v", got)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateLine(ctx, got, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale line update: %v", err)
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			ls, err := tx.Lines(ctx, "b1")
			if err != nil {
				return err
			}
			var ids []string
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			equal(t, "Lines", ids, []string{"l1", "l2", "l3"})
			return nil
		})
		fetch := func(q *listing.Query) ([]*domain.Line, error) { return s.ListLines(ctx, "b1", q) }
		id := func(l *domain.Line) string { return l.ID }
		checkList(t, store.LineTable, []listCase{
			{"", "", []string{"l1", "l2", "l3"}},
			{`category = CLOUD`, "", []string{"l1"}},
			{`expense_type = OPEX`, "name desc", []string{"l3", "l1"}},
			{`tag = ""`, "", []string{"l3"}},
			{`name = "budgets/b1/lines/l2"`, "", []string{"l2"}},
			{`display_name >= "Line l2"`, "display_name desc", []string{"l3", "l2"}},
			{"", "tag desc", []string{"l2", "l1", "l3"}},
		}, fetch, id)
		if ls, err := s.ListLines(ctx, "other", mustPlan(t, store.LineTable.Resource, "")); err != nil || len(ls) != 0 {
			t.Errorf("lines of another budget: %v, %v", ls, err)
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteLine(ctx, "b1", "l3", 1) })
		if _, err := s.GetLine(ctx, "b1", "l3"); !errors.Is(err, domain.ErrLineNotFound) {
			t.Errorf("deleted line: %v", err)
		}
	})

	t.Run("line balances default to zero and upsert", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			b, err := tx.LineBalance(ctx, "b1", "l1")
			if err != nil {
				return err
			}
			equal(t, "empty balance", b, &domain.LineBalance{ChainID: "b1", LineID: "l1"})
			if has, err := tx.LineHasSpend(ctx, "b1", "l1"); err != nil || has {
				t.Errorf("LineHasSpend before = %v, %v", has, err)
			}
			b.ActualMinor, b.CommittedMinor, b.Version = 100, 50, 1
			if err := tx.PutLineBalance(ctx, b); err != nil {
				return err
			}
			b.ActualMinor, b.Version = 300, 2
			if err := tx.PutLineBalance(ctx, b); err != nil {
				return err
			}
			if err := tx.PutLineBalance(ctx, &domain.LineBalance{ChainID: "b1", LineID: "l2", Version: 1}); err != nil {
				return err
			}
			got, err := tx.LineBalance(ctx, "b1", "l1")
			equal(t, "balance in tx", got, &domain.LineBalance{ChainID: "b1", LineID: "l1", ActualMinor: 300, CommittedMinor: 50, Version: 2})
			if has, err := tx.LineHasSpend(ctx, "b1", "l1"); err != nil || !has {
				t.Errorf("LineHasSpend with a balance = %v, %v", has, err)
			}
			if has, err := tx.LineHasSpend(ctx, "b1", "l2"); err != nil || has {
				t.Errorf("LineHasSpend with a zero balance = %v, %v", has, err)
			}
			return err
		})
		bs, err := s.LineBalances(ctx, "b1")
		if err != nil || len(bs) != 2 || bs[0].LineID != "l1" || bs[0].ActualMinor != 300 || bs[1].LineID != "l2" {
			t.Errorf("LineBalances = %+v, %v", bs, err)
		}
	})

	t.Run("actuals round-trip, sum their corrections and list with wildcards", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		a1 := newActual("a1", "l1", 10000, 9215, domain.Date{Year: 2026, Month: time.May, Day: 3}, 2)
		a1.Amount.Currency, a1.Rate = "USD", eurUSD()
		c1 := newCommitment("c1", "l2", 5000, 3)
		a2 := newActual("a2", "l2", 3000, 3000, domain.Date{Year: 2026, Month: time.June, Day: 1}, 3)
		a2.CommitmentID, a2.CommitmentBudgetID, a2.ReleasedMinor, a2.Source = "c1", "b1", 3000, domain.SourcePayroll
		fix1 := newActual("f1", "l1", -1000, -922, domain.Date{Year: 2026, Month: time.July, Day: 1}, 4)
		fix1.Amount.Currency, fix1.Rate, fix1.CorrectsID, fix1.CorrectsBudgetID = "USD", eurUSD(), "a1", "b1"
		fix2 := newActual("f2", "l1", -500, -461, domain.Date{Year: 2026, Month: time.July, Day: 2}, 4)
		// The references keep the revision they were made under, which need not be the actual's own.
		fix2.Amount.Currency, fix2.Rate, fix2.CorrectsID, fix2.CorrectsBudgetID = "USD", eurUSD(), "a1", "b0"
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertCommitment(ctx, c1); err != nil {
				return err
			}
			for _, a := range []*domain.Actual{a1, a2, fix1, fix2} {
				if err := tx.InsertActual(ctx, a); err != nil {
					return err
				}
			}
			got, err := tx.GetActual(ctx, "b1", "l1", "a1")
			equal(t, "actual in tx", got, a1)
			if n, err := tx.SumCorrections(ctx, "a1"); err != nil || n != -1383 {
				t.Errorf("SumCorrections(a1) = %d, %v", n, err)
			}
			if n, err := tx.SumCorrections(ctx, "a2"); err != nil || n != 0 {
				t.Errorf("SumCorrections(a2) = %d, %v", n, err)
			}
			if has, err := tx.LineHasSpend(ctx, "b1", "l2"); err != nil || !has {
				t.Errorf("LineHasSpend(l2) = %v, %v", has, err)
			}
			if has, err := tx.ChainHasSpend(ctx, "b1"); err != nil || !has {
				t.Errorf("ChainHasSpend = %v, %v", has, err)
			}
			for id, want := range map[string]bool{"c1": true, "a1": false, "c2": false} {
				if got, err := tx.CommitmentExists(ctx, id); err != nil || got != want {
					t.Errorf("CommitmentExists(%s) = %v, %v; want %v", id, got, err, want)
				}
			}
			return err
		})
		for _, a := range []*domain.Actual{a1, a2, fix1, fix2} {
			got, err := s.GetActual(ctx, a.BudgetID, a.LineID, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "actual "+a.ID, got, a)
		}
		if _, err := s.GetActual(ctx, "b1", "l2", "a1"); !errors.Is(err, domain.ErrActualNotFound) {
			t.Errorf("actual under the wrong line: %v", err)
		}
		err := withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.InsertActual(ctx, a1) })
		if err == nil {
			t.Error("duplicate actual ID accepted")
		}
		fetch := func(b, l string) func(q *listing.Query) ([]*domain.Actual, error) {
			return func(q *listing.Query) ([]*domain.Actual, error) { return s.ListActuals(ctx, b, l, q) }
		}
		id := func(a *domain.Actual) string { return a.ID }
		checkList(t, store.ActualTable, []listCase{
			{"", "", []string{"a1", "f1", "f2"}},
			{`source = VENDOR_INVOICE`, "booking_date desc", []string{"f2", "f1", "a1"}},
			{`booking_date >= "2026-07-01" AND booking_date < "2026-07-02"`, "", []string{"f1"}},
			{`external_reference = "inv-a1"`, "", []string{"a1"}},
		}, fetch("b1", "l1"), id)
		checkList(t, store.ActualTable, []listCase{
			{"", "", []string{"a1", "a2", "f1", "f2"}},
			{`amount.currency_code = "EUR"`, "", []string{"a2"}},
			{`line = "budgets/b1/lines/l2"`, "", []string{"a2"}},
			{`budget = "budgets/b1" AND booking_date >= "2026-07-01" AND booking_date < "2026-08-01"`, "name desc", []string{"f2", "f1"}},
			{`source = PAYROLL OR booking_date <= "2026-05-03"`, "line desc, booking_date", []string{"a2", "a1"}},
			{"", "create_time, external_reference desc", []string{"f2", "f1", "a2", "a1"}},
		}, fetch(store.Wildcard, store.Wildcard), id)
		checkList(t, store.ActualTable, []listCase{{"", "", []string{"a2"}}}, fetch(store.Wildcard, "l2"), id)
		checkList(t, store.ActualTable, []listCase{{"", "", nil}}, fetch("b2", store.Wildcard), id)
	})

	t.Run("commitments round-trip, update with their version and list", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		c1 := newCommitment("c1", "l1", 5000, 3)
		c1.Amount, c1.Rate = domain.Amount{Minor: 5426, Currency: "USD"}, eurUSD()
		c2 := newCommitment("c2", "l2", 7000, 5)
		c2.Source, c2.SourceRef = domain.CommitmentPurchaseOrder, "purchaseOrders/po-7"
		c3 := newCommitment("c3", "l1", 1000, 12)
		c3.Date = domain.Date{Year: 2027, Month: time.March, Day: 31}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, c := range []*domain.Commitment{c1, c2, c3} {
				if err := tx.InsertCommitment(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.GetCommitment(ctx, "b1", "l1", "c1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "commitment", got, c1)
		if _, err := s.GetCommitment(ctx, "b1", "l2", "c1"); !errors.Is(err, domain.ErrCommitmentNotFound) {
			t.Errorf("commitment under the wrong line: %v", err)
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.GetCommitment(ctx, "b1", "l1", "c3")
			if err != nil {
				return err
			}
			c.RemainingMinor, c.State, c.UpdateTime, c.Version = 0, domain.CommitmentReleased, t0.Add(time.Hour), 2
			return tx.UpdateCommitment(ctx, c, 1)
		})
		got, _ = s.GetCommitment(ctx, "b1", "l1", "c3")
		if got.State != domain.CommitmentReleased || got.RemainingMinor != 0 || got.Version != 2 || !got.UpdateTime.Equal(t0.Add(time.Hour)) {
			t.Errorf("after release: %+v", got)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateCommitment(ctx, got, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale commitment update: %v", err)
		}
		fetch := func(q *listing.Query) ([]*domain.Commitment, error) {
			return s.ListCommitments(ctx, store.Wildcard, store.Wildcard, q)
		}
		id := func(c *domain.Commitment) string { return c.ID }
		checkList(t, store.CommitmentTable, []listCase{
			{"", "", []string{"c1", "c2", "c3"}},
			{`state = OPEN`, "", []string{"c1", "c2"}},
			{`source = PURCHASE_ORDER`, "", []string{"c2"}},
			{`source_reference = "vendors/acme/contracts/c1"`, "", []string{"c1"}},
			{`expected_date > "2026-12-31"`, "", []string{"c3"}},
			{`line = "budgets/b1/lines/l1"`, "expected_date desc", []string{"c3", "c1"}},
			{"", "update_time desc, expected_date desc", []string{"c3", "c1", "c2"}},
		}, fetch, id)
		lfetch := func(q *listing.Query) ([]*domain.Commitment, error) { return s.ListCommitments(ctx, "b1", "l2", q) }
		checkList(t, store.CommitmentTable, []listCase{{"", "", []string{"c2"}}}, lfetch, id)
	})

	t.Run("transfers round-trip, update with their version and list", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		tr := func(id, target string, state domain.TransferState, day int) *domain.Transfer {
			return &domain.Transfer{ID: id, BudgetID: "b1", SourceLineID: "l1", TargetBudgetID: "b1", TargetLineID: target,
				AmountMinor: 1000, EffectiveDate: domain.Date{Year: 2026, Month: time.May, Day: day}, Period: 2,
				Reason: "shift", State: state, Requester: "users/rae", CreateTime: t0.Add(time.Duration(day) * time.Second),
				UpdateTime: t0, Version: 1}
		}
		t1, t2, t3 := tr("t1", "l2", domain.TransferPending, 3), tr("t2", "l2", domain.TransferPending, 1), tr("t3", "l1", domain.TransferRejected, 2)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, x := range []*domain.Transfer{t1, t2, t3} {
				if err := tx.InsertTransfer(ctx, x); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.GetTransfer(ctx, "b1", "t1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "pending transfer", got, t1)
		if _, err := s.GetTransfer(ctx, "b2", "t1"); !errors.Is(err, domain.ErrTransferNotFound) {
			t.Errorf("transfer of another budget: %v", err)
		}
		var approved domain.Transfer
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			x, err := tx.GetTransfer(ctx, "b1", "t1")
			if err != nil {
				return err
			}
			x.State, x.Decider, x.DecisionTime, x.DecisionReason, x.Version = domain.TransferApproved, "users/dee", t0.Add(time.Hour), "ok", 2
			approved = *x
			return tx.UpdateTransfer(ctx, x, 1)
		})
		got, _ = s.GetTransfer(ctx, "b1", "t1")
		equal(t, "approved transfer", got, &approved)
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateTransfer(ctx, got, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale transfer update: %v", err)
		}
		fetch := func(b string) func(q *listing.Query) ([]*domain.Transfer, error) {
			return func(q *listing.Query) ([]*domain.Transfer, error) { return s.ListTransfers(ctx, b, q) }
		}
		id := func(x *domain.Transfer) string { return x.ID }
		checkList(t, store.TransferTable, []listCase{
			{"", "", []string{"t1", "t2", "t3"}},
			{`state = PENDING`, "", []string{"t2"}},
			{`state != PENDING`, "create_time desc", []string{"t1", "t3"}},
			{`target_line = "budgets/b1/lines/l2"`, "effective_date", []string{"t2", "t1"}},
			{`source_line = "budgets/b1/lines/l1" AND decider = "users/dee"`, "", []string{"t1"}},
		}, fetch("b1"), id)
		checkList(t, store.TransferTable, []listCase{{"", "", []string{"t1", "t2", "t3"}}}, fetch(store.Wildcard), id)
		checkList(t, store.TransferTable, []listCase{{"", "", nil}}, fetch("b2"), id)
	})

	t.Run("exchange rates: unique per month and pair, found only for the direct pair", func(t *testing.T) {
		s, _ := open(t)
		rate := func(id string, y int, m time.Month, src, dst domain.Currency, v string) *domain.ExchangeRate {
			return &domain.ExchangeRate{ID: id, Month: domain.Month{Year: y, Month: m}, Source: src, Target: dst, Value: v,
				CreateTime: t0, UpdateTime: t0, Version: 1}
		}
		r1 := rate("2027-03-eur-usd", 2027, time.March, "EUR", "USD", "1.0845")
		r2 := rate("2027-04-eur-usd", 2027, time.April, "EUR", "USD", "1.09")
		r3 := rate("2027-03-gbp-usd", 2027, time.March, "GBP", "USD", "1.27")
		r4 := rate("2026-12-usd-jpy", 2026, time.December, "USD", "JPY", "151.123456789")
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			for _, r := range []*domain.ExchangeRate{r1, r2, r3, r4} {
				if err := tx.InsertExchangeRate(ctx, r); err != nil {
					return err
				}
			}
			got, err := tx.FindRate(ctx, domain.Month{Year: 2027, Month: time.March}, "EUR", "USD")
			equal(t, "FindRate in tx", got, r1)
			return err
		})
		got, err := s.GetExchangeRate(ctx, r4.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "rate", got, r4)
		if _, err := s.FindRate(ctx, domain.Month{Year: 2027, Month: time.March}, "USD", "EUR"); !errors.Is(err, domain.ErrExchangeRateNotFound) {
			t.Errorf("inverse pair: %v", err)
		}
		if _, err := s.GetExchangeRate(ctx, "nope"); !errors.Is(err, domain.ErrExchangeRateNotFound) {
			t.Errorf("missing rate: %v", err)
		}
		for _, dup := range []*domain.ExchangeRate{r1, rate("other-id", 2027, time.March, "EUR", "USD", "2")} {
			err := withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.InsertExchangeRate(ctx, dup) })
			if !errors.Is(err, domain.ErrExchangeRateExists) {
				t.Errorf("duplicate %s: %v", dup.ID, err)
			}
		}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			r, err := tx.GetExchangeRate(ctx, r2.ID)
			if err != nil {
				return err
			}
			r.Value, r.UpdateTime, r.Version = "1.1", t0.Add(time.Hour), 2
			return tx.UpdateExchangeRate(ctx, r, 1)
		})
		got, _ = s.FindRate(ctx, domain.Month{Year: 2027, Month: time.April}, "EUR", "USD")
		if got.Value != "1.1" || got.Version != 2 {
			t.Errorf("after update: %+v", got)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.UpdateExchangeRate(ctx, got, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("stale rate update: %v", err)
		}
		fetch := func(q *listing.Query) ([]*domain.ExchangeRate, error) { return s.ListExchangeRates(ctx, q) }
		id := func(r *domain.ExchangeRate) string { return r.ID }
		checkList(t, store.ExchangeRateTable, []listCase{
			{"", "", []string{r4.ID, r1.ID, r3.ID, r2.ID}},
			{`month = "2027-03"`, "", []string{r1.ID, r3.ID}},
			{`source_currency_code = "EUR" AND target_currency_code = USD`, "month desc", []string{r2.ID, r1.ID}},
			{`month >= "2027-01"`, "source_currency_code desc, month desc", []string{r3.ID, r2.ID, r1.ID}},
		}, fetch, id)
		within(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteExchangeRate(ctx, r3.ID, 1) })
		if _, err := s.GetExchangeRate(ctx, r3.ID); !errors.Is(err, domain.ErrExchangeRateNotFound) {
			t.Errorf("deleted rate: %v", err)
		}
		err = withinErr(s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteExchangeRate(ctx, r3.ID, 1) })
		if !errors.Is(err, sqlstore.ErrConcurrentUpdate) {
			t.Errorf("second delete: %v", err)
		}
	})

	t.Run("spend sums actuals and open commitments per line and period; rates used are distinct", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		may := domain.Date{Year: 2026, Month: time.May, Day: 3}
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			as := []*domain.Actual{
				newActual("a1", "l1", 1000, 1000, may, 2), newActual("a2", "l1", 500, 500, may, 2),
				newActual("a3", "l1", 10000, 9215, may, 2), newActual("a4", "l2", 700, 700, may, 5),
				newActual("a5", "l1", -100, -100, may, 3),
			}
			as[2].Amount.Currency, as[2].Rate = "USD", eurUSD()
			cs := []*domain.Commitment{newCommitment("c1", "l1", 300, 2), newCommitment("c2", "l1", 400, 6),
				newCommitment("c3", "l2", 900, 5), newCommitment("c4", "l2", 999, 5)}
			cs[1].Amount.Currency, cs[1].Rate = "USD", eurUSD()
			cs[2].RemainingMinor = 600
			gbp := &domain.RateUse{RateID: "2026-06-gbp-eur", Month: domain.Month{Year: 2026, Month: time.June}, Source: "GBP", Target: "EUR", Value: "1.17"}
			cs[3].Amount.Currency, cs[3].Rate, cs[3].State, cs[3].RemainingMinor = "GBP", gbp, domain.CommitmentReleased, 0
			for _, c := range cs {
				if err := tx.InsertCommitment(ctx, c); err != nil {
					return err
				}
			}
			for _, a := range as {
				if err := tx.InsertActual(ctx, a); err != nil {
					return err
				}
			}
			got, err := tx.Spend(ctx, "b1")
			equal(t, "Spend in tx", got, []store.LineSpend{
				spent("l1", 2, 10715, 300), spent("l1", 3, -100, 0), spent("l1", 6, 0, 400), spent("l2", 5, 700, 600),
			})
			if err != nil {
				return err
			}
			rates, err := tx.RatesUsed(ctx, "b1")
			equal(t, "RatesUsed in tx", rates, []domain.RateUse{*eurUSD()})
			return err
		})
		got, err := s.Spend(ctx, "b1")
		if err != nil || len(got) != 4 {
			t.Errorf("Spend = %v, %v", got, err)
		}
		if got, err := s.Spend(ctx, "nope"); err != nil || len(got) != 0 {
			t.Errorf("Spend of an unknown chain = %v, %v", got, err)
		}
		rates, err := s.RatesUsed(ctx, "b1")
		if err != nil || len(rates) != 1 {
			t.Errorf("RatesUsed = %v, %v", rates, err)
		}
	})

	t.Run("roll-ups: subtree and the budgets in force", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			// net: in force is revision 2 (n1 superseded); wan: only a draft; other: another year.
			for _, c := range []*domain.Chain{newChain("n1", "net", 2027), newChain("w1", "wan", 2027), newChain("o1", "other", 2028)} {
				if c.ID != "w1" {
					c.InForceID = map[string]string{"n1": "n2", "o1": "o1"}[c.ID]
				}
				if err := tx.InsertChain(ctx, c); err != nil {
					return err
				}
			}
			for _, b := range []*domain.Budget{
				newBudget("n1", "n1", "net", 2027, 1, domain.StateSuperseded), newBudget("n2", "n1", "net", 2027, 2, domain.StateApproved),
				newBudget("w1", "w1", "wan", 2027, 1, domain.StateDraft), newBudget("o1", "o1", "other", 2028, 1, domain.StateApproved),
			} {
				if err := tx.InsertBudget(ctx, b); err != nil {
					return err
				}
			}
			ccs, err := tx.Subtree(ctx, "net")
			equal(t, "Subtree(net) in tx", costCenterIDs(ccs), []string{"net", "wan"})
			return err
		})
		ccs, err := s.Subtree(ctx, "infra")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "Subtree(infra)", costCenterIDs(ccs), []string{"infra", "net", "wan"})
		if ccs[1].ParentID != "infra" || ccs[2].ParentID != "net" {
			t.Errorf("Subtree(infra) parents = %q, %q; want infra, net", ccs[1].ParentID, ccs[2].ParentID)
		}
		if ccs, err := s.Subtree(ctx, "ghost"); err != nil || len(ccs) != 0 {
			t.Errorf("Subtree(ghost) = %v, %v", ccs, err)
		}
		bs, err := s.BudgetsInForce(ctx, []string{"infra", "net", "wan"}, 2027)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range bs {
			got = append(got, b.ID)
		}
		equal(t, "BudgetsInForce FY2027", got, []string{"b1", "n2"})
		if bs, err := s.BudgetsInForce(ctx, []string{"infra", "other"}, 2028); err != nil || len(bs) != 1 || bs[0].ID != "o1" {
			t.Errorf("BudgetsInForce FY2028 = %v, %v", bs, err)
		}
		if bs, err := s.BudgetsInForce(ctx, nil, 2027); err != nil || len(bs) != 0 {
			t.Errorf("BudgetsInForce of no cost centres = %v, %v", bs, err)
		}
	})

	t.Run("LockChains locks in ID order once each", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		within(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := tx.InsertChain(ctx, newChain("a0", "other", 2027)); err != nil {
				return err
			}
			cs, err := tx.LockChains(ctx, "b1", "a0", "b1")
			if err != nil {
				return err
			}
			if len(cs) != 2 || cs[0].ID != "a0" || cs[1].ID != "b1" {
				t.Errorf("LockChains = %+v", cs)
			}
			return nil
		})
	})

	t.Run("a second transaction locking the chain waits for the first", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		started := make(chan struct{})
		var wg sync.WaitGroup
		var second *domain.Chain
		first := withinErr(s, func(ctx context.Context, tx store.Tx) error {
			c, err := tx.LockChain(ctx, "b1")
			if err != nil {
				return err
			}
			wg.Go(func() {
				close(started)
				err := withinErr(s, func(ctx context.Context, tx store.Tx) error {
					c, err := tx.LockChain(ctx, "b1")
					second = c
					return err
				})
				if err != nil {
					t.Errorf("second transaction: %v", err)
				}
			})
			<-started
			next := *c
			next.ForecastOverPlan, next.Version = true, 2
			return tx.UpdateChain(ctx, &next, 1)
		})
		if first != nil {
			t.Fatal(first)
		}
		wg.Wait()
		// The second lock was granted after the first commit, so it sees its change.
		if second == nil || second.Version != 2 || !second.ForecastOverPlan {
			t.Errorf("second transaction saw %+v", second)
		}
	})

	t.Run("concurrent spend writers serialise on the chain lock", func(t *testing.T) {
		s, _ := open(t)
		setup(t, s)
		const writers = 16
		testkit.Concurrently(t, writers, func(i int) error {
			return withinErr(s, func(ctx context.Context, tx store.Tx) error {
				c, err := tx.LockChain(ctx, "b1")
				if err != nil {
					return err
				}
				b, err := tx.LineBalance(ctx, "b1", "l1")
				if err != nil {
					return err
				}
				a := newActual(fmt.Sprintf("w%02d", i), "l1", 100, 100, domain.Date{Year: 2026, Month: time.May, Day: 1}, 2)
				if err := tx.InsertActual(ctx, a); err != nil {
					return err
				}
				b.ActualMinor += 100
				b.Version++
				if err := tx.PutLineBalance(ctx, b); err != nil {
					return err
				}
				prev := c.Version
				c.Version++
				return tx.UpdateChain(ctx, c, prev)
			})
		})
		c, _ := s.GetChain(ctx, "b1")
		bs, _ := s.LineBalances(ctx, "b1")
		if c.Version != writers+1 || len(bs) != 1 || bs[0].ActualMinor != 100*writers || bs[0].Version != writers {
			t.Errorf("chain %+v, balances %+v", c, bs)
		}
	})
}

func mustPlan(t *testing.T, res listing.Resource, filter string) *listing.Query {
	t.Helper()
	q, err := listing.Plan(&budgetv1.ListCostCentersRequest{Filter: filter}, res)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func spent(line string, period int, actual, committed int64) store.LineSpend {
	return store.LineSpend{LineID: line, Period: period, ActualMinor: actual, CommittedMinor: committed}
}

func costCenterIDs(ccs []*domain.CostCenter) []string {
	ids := make([]string, 0, len(ccs))
	for _, c := range ccs {
		ids = append(ids, c.ID)
	}
	return ids
}
