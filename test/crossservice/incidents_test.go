package crossservice_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// TestIncidentAcrossServices runs risk, vendors and budget side by side, each on a database of
// its own, on one NATS server and one clock. A SEV1 outage of a vendor, linked to a risk and
// charged to a budget line, is declared and resolved in the risk service through its API, the
// clock moved between the steps: the risk is re-scored at the resolution; vendors finds the two
// breaches of the contract's service level (6 hours to resolve where 4 are allowed; an hour down
// in September, below 99.9 %) and shows them in the vendor's scorecard, publishing each once;
// budget records the incident's cost as an actual. Then vendors and budget read the whole risk
// stream again, their durables deleted and their inboxes wiped: nothing changes.
func TestIncidentAcrossServices(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startStack(t, db)
		ctx := context.Background()
		riskSvc := testkit.Start(t, testenv.Another(t, db), risk.Service(), testkit.WithNATS(s.nats),
			testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = s.clock
				o.Peers = map[string]string{"talent": "127.0.0.1:1"}
			}))
		register := riskv1.NewRiskServiceClient(riskSvc.Conn)
		incidents := riskv1.NewIncidentServiceClient(riskSvc.Conn)

		line := s.approvedBudget(t, "ops", budgetv1.Budget_WARN, 10_000_000)
		vendor := s.activeVendor(t, "acme")
		contract := s.submit(t, vendor, "crm", &vendorsv1.Contract{Title: "CRM", TotalValue: usd(600_000), AnnualValue: usd(1_200_000),
			StartDate: day(2026, 9, 1), EndDate: day(2027, 2, 28), BudgetLine: line,
			Slas: []*vendorsv1.ServiceLevel{{DisplayName: "CRM", AvailabilityTargetPercent: "99.9",
				ResponseTargets: []*vendorsv1.ResponseTarget{{Severity: vendorsv1.ResponseTarget_SEV1, ResolutionTime: durationpb.New(4 * time.Hour)}}}}})
		if _, err := s.vApprover.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: contract}); err != nil {
			t.Fatal(err)
		}
		if _, err := register.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: "crm", Risk: &riskv1.Risk{
			Title: "CRM down", Category: riskv1.Risk_VENDOR, Owner: "cio@example.com"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := register.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: "risks/crm", Reason: "review",
			Inherent: &riskv1.RiskScore{Likelihood: 3, Impact: 4}, Residual: &riskv1.RiskScore{Likelihood: 2, Impact: 4}}); err != nil {
			t.Fatal(err)
		}

		inc, err := incidents.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "crm-down", Incident: &riskv1.Incident{
			Title: "CRM unavailable", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV1, Vendor: vendor,
			VendorContract: contract, LinkedRisks: []string{"risks/crm"}}})
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(5 * time.Minute)
		if _, err := incidents.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: inc.GetName()}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(55 * time.Minute)
		if _, err := incidents.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: inc.GetName()}); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(5 * time.Hour)
		if _, err := incidents.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: inc.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := incidents.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: inc.GetName(),
			Cost: usd(50_000), BudgetLine: line}}); err != nil {
			t.Fatal(err)
		}

		r, err := register.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/crm"})
		if err != nil || r.GetResidual().GetLikelihood() != 3 {
			t.Errorf("risks/crm after the resolution = %v, %v; want residual likelihood 3", r.GetResidual(), err)
		}

		scorecard := vendor + "/scorecards/2026-Q3"
		observe := func() (breaches, events, actuals int) {
			t.Helper()
			sc, err := s.v.GetScorecard(ctx, &vendorsv1.GetScorecardRequest{Name: scorecard})
			if err != nil {
				t.Fatal(err)
			}
			as, err := s.b.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: line,
				Filter: `source = INCIDENT_COST AND external_reference = "incidents/crm-down"`})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as.GetActuals() {
				if minorOf(a.GetAmount()) != 50_000 {
					t.Errorf("incident actual %v; want 500.00 USD", a.GetAmount())
				}
			}
			n := testkit.Column[int](t, s.vendors.DB(t), `SELECT COUNT(*) FROM outbox WHERE subject LIKE '%.vendor.sla_breached'`)[0]
			return int(sc.GetSlaBreachCount()), n, len(as.GetActuals())
		}
		testkit.Eventually(t, time.Minute, func() error {
			if b, e, a := observe(); b != 2 || e != 2 || a != 1 {
				return fmt.Errorf("%d breaches in the scorecard, %d sla_breached events, %d actuals; want 2, 2, 1", b, e, a)
			}
			return nil
		})

		// A replay of the risk stream into vendors and budget, past their inboxes.
		stop := func(svc *testkit.Service) {
			t.Helper()
			sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if err := svc.Stop(sctx); err != nil {
				t.Fatal(err)
			}
		}
		stop(s.vendors)
		s.stopBudget(t)
		for _, d := range []testenv.Database{s.vendors.Database, s.budgetDB} {
			sdb := testkit.Open(t, d)
			for _, table := range []string{"consumer_inbox", "consumer_versions"} {
				if _, err := sdb.ExecContext(ctx, `DELETE FROM `+table); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, durable := range []string{"vendors_risk-incidents", "budget_risk-incident-costs"} {
			if err := riskSvc.JetStream.DeleteConsumer(ctx, riskSvc.Stream(), durable); err != nil {
				t.Fatalf("delete %s: %v", durable, err)
			}
		}
		vendorsDB := s.vendors.Database
		s.vendors = nil // vendors starts again after budget, calling it at its new address
		s.startBudget(t, "127.0.0.1:0", true)
		s.vendors = testkit.Start(t, vendorsDB, vendors.Service(), testkit.WithNATS(s.nats),
			testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = s.clock
				o.Peers = map[string]string{"budget": s.budget.Addr}
			}))
		s.v = vendorsv1.NewVendorsServiceClient(s.vendors.Conn)
		testkit.Eventually(t, time.Minute, func() error {
			for _, durable := range []string{"vendors_risk-incidents", "budget_risk-incident-costs"} {
				c, err := riskSvc.JetStream.Consumer(ctx, riskSvc.Stream(), durable)
				if err != nil {
					return err
				}
				ci, err := c.Info(ctx)
				if err != nil {
					return err
				}
				if ci.NumPending > 0 || ci.NumAckPending > 0 {
					return fmt.Errorf("%s: %d pending, %d unacknowledged", durable, ci.NumPending, ci.NumAckPending)
				}
			}
			return nil
		})
		if b, e, a := observe(); b != 2 || e != 2 || a != 1 {
			t.Errorf("after the replay: %d breaches in the scorecard, %d sla_breached events, %d actuals; want 2, 2, 1", b, e, a)
		}
	})
}
