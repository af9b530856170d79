package budget_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// costChanged is the risk service's incident.cost_changed of incident id at version: its cost
// in USD minor units (negative: none) on line, changed at changed.
func costChanged(id string, version int64, cost int64, line string, changed time.Time) *riskv1.IncidentCostChanged {
	inc := &riskv1.Incident{Name: "incidents/" + id, Title: "Checkout down", BudgetLine: line,
		DeclareTime: timestamppb.New(changed.Add(-time.Hour)), UpdateTime: timestamppb.New(changed)}
	if cost >= 0 {
		inc.Cost = usd(cost)
	}
	return &riskv1.IncidentCostChanged{Incident: inc, Version: version}
}

// TestIncidentCosts feeds budget the cost changes of an incident — a first cost, a higher one,
// the same cost moved to another line, and a late, older change — and checks that each line's
// actuals of the incident sum to what the incident's latest cost puts on it, the earlier costs
// reversed by corrections; a replay of every event with the inbox and version marks wiped
// changes nothing.
func TestIncidentCosts(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		feed := testkit.StartFeed(t, db, "risk")
		svc := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}),
			testkit.WithNATS(feed.NATS), testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = clock.NewFake(spendNow)
				o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
			}))
		e := &spendEnv{env: svc, approver: clientAs(t, svc, "apiKeys/approver", "budget.read", "budget.approve"), db: svc.DB(t)}
		seedApprovedBudget(t, e, "it", "b-inc", "USD", domain.PolicyWarn,
			fixtureLine{id: "ops", planned: 10_000_000}, fixtureLine{id: "security", planned: 10_000_000})
		const (
			ops      = "budgets/b-inc/lines/ops"
			security = "budgets/b-inc/lines/security"
		)
		sept := func(d int) time.Time { return time.Date(2026, 9, d, 9, 0, 0, 0, time.UTC) }

		events := []struct {
			version int64
			ev      *riskv1.IncidentCostChanged
		}{
			{2, costChanged("outage", 2, 150_000, ops, sept(10))},
			{5, costChanged("outage", 5, 200_000, ops, sept(11))},
			{7, costChanged("outage", 7, 200_000, security, sept(12))},
			{3, costChanged("outage", 3, 999_900, ops, sept(10))}, // late and older: skipped
			{1, costChanged("no-line", 1, 50_000, "", sept(10))},  // no line: nothing to record
		}
		for _, x := range events {
			feed.Publish(t, x.ev.GetIncident().GetName(), x.version, x.ev)
		}
		handled := func() int {
			return testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = 'risk-incident-costs'`)[0]
		}
		waitHandled := func() {
			t.Helper()
			testkit.Eventually(t, time.Minute, func() error {
				if n := handled(); n < len(events) {
					return fmt.Errorf("%d of %d events handled", n, len(events))
				}
				return nil
			})
		}
		waitHandled()

		type row struct {
			amount   int64
			date     string
			corrects bool
		}
		actualsOf := func(line string) []row {
			t.Helper()
			r, err := e.client.ListActuals(context.Background(), &budgetv1.ListActualsRequest{Parent: line, PageSize: 100,
				Filter: `source = INCIDENT_COST AND external_reference = "incidents/outage"`})
			if err != nil {
				t.Fatal(err)
			}
			var out []row
			for _, a := range r.GetActuals() {
				d := a.GetBookingDate()
				out = append(out, row{minorOf(a.GetAmount()), fmt.Sprintf("%d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay()), a.GetCorrects() != ""})
			}
			// The service's clock stands still: order by date, then amount.
			slices.SortFunc(out, func(a, b row) int { return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(b.amount, a.amount)) })
			return out
		}
		check := func(when string) {
			t.Helper()
			wantOps := []row{{150_000, "2026-09-10", false}, {-150_000, "2026-09-10", true}, {200_000, "2026-09-11", false}, {-200_000, "2026-09-11", true}}
			if got := actualsOf(ops); !slices.Equal(got, wantOps) {
				t.Errorf("%s: actuals of the incident on ops = %v; want %v", when, got, wantOps)
			}
			if got, want := actualsOf(security), []row{{200_000, "2026-09-12", false}}; !slices.Equal(got, want) {
				t.Errorf("%s: actuals of the incident on security = %v; want %v", when, got, want)
			}
			if got := minorOf(figuresOf(t, e, "b-inc", ops).GetActual()); got != 0 {
				t.Errorf("%s: actual of ops = %d; want 0", when, got)
			}
			if got := minorOf(figuresOf(t, e, "b-inc", security).GetActual()); got != 200_000 {
				t.Errorf("%s: actual of security = %d; want 200000", when, got)
			}
			if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM actuals`)[0]; n != 5 {
				t.Errorf("%s: %d actuals; want 5", when, n)
			}
		}
		check("after the events")

		for _, table := range []string{"consumer_inbox", "consumer_versions"} {
			if _, err := e.db.ExecContext(context.Background(), `DELETE FROM `+table); err != nil {
				t.Fatal(err)
			}
		}
		feed.Redeliver(t, len(events))
		waitHandled()
		check("after a replay with the inbox wiped")
	})
}
