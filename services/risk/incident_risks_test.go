package risk_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestResolvedIncidentRescoresLinkedRisks resolves an incident linked to five risks: the one
// scored and left alone since the incident's declaration rises one step of likelihood, in the
// resolution's transaction, with the incident as the cause in its history and among its
// incidents; the one its owner re-assessed after the declaration, the CLOSED one, the one not
// scored and the one already at the top step stay as they are. A retried resolution changes
// nothing more.
func TestResolvedIncidentRescoresLinkedRisks(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(9, 0))
		ctx := context.Background()
		d.newRisk(t, "untouched", true) // inherent 4 × 4, residual 3 × 3
		d.newRisk(t, "reassessed", true)
		d.newRisk(t, "closed", true)
		d.newRisk(t, "unscored", false)
		top := d.newRisk(t, "top", false)
		if _, err := d.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: top.GetName(), Reason: "certain",
			Inherent: &riskv1.RiskScore{Likelihood: 5, Impact: 4}, Residual: &riskv1.RiskScore{Likelihood: 5, Impact: 2}}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: "risks/closed", Reason: "gone"}); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Minute)
		inc, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "db-outage", Incident: &riskv1.Incident{
			Title: "Primary database down", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV2,
			LinkedRisks: []string{"risks/untouched", "risks/reassessed", "risks/closed", "risks/unscored", "risks/top"}}})
		if err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(10 * time.Minute)
		// The owner re-assesses one of them with the incident known.
		if _, err := d.owner.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: "risks/reassessed", Reason: "the outage shows it",
			Residual: &riskv1.RiskScore{Likelihood: 4, Impact: 3}}); err != nil {
			t.Fatal(err)
		}
		before := map[string]*riskv1.Risk{}
		for _, id := range []string{"untouched", "reassessed", "closed", "unscored", "top"} {
			r, err := d.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/" + id})
			if err != nil {
				t.Fatal(err)
			}
			before[id] = r
		}
		if _, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: inc.GetName()}); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Hour)
		if _, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: inc.GetName()}); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Hour)
		resolve := &riskv1.ResolveIncidentRequest{Name: inc.GetName(), RequestId: "3b2f8c4e-1d7a-4e5b-9c6f-0a1b2c3d4e5f"}
		if _, err := d.inc.ResolveIncident(ctx, resolve); err != nil {
			t.Fatal(err)
		}
		resolved := d.clock.Now()

		history := func(id string) []*riskv1.RiskScoreChange {
			t.Helper()
			r, err := d.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: "risks/" + id, PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			return r.GetRiskScoreChanges()
		}
		check := func(when string) {
			t.Helper()
			r, err := d.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/untouched"})
			if err != nil {
				t.Fatal(err)
			}
			if r.GetResidual().GetLikelihood() != 4 || r.GetResidual().GetImpact() != 3 || r.GetInherent().GetLikelihood() != 4 ||
				r.GetInherent().GetImpact() != 4 || len(r.GetIncidents()) != 1 || r.GetIncidents()[0] != inc.GetName() {
				t.Errorf("%s: risks/untouched = residual %v, inherent %v, incidents %v; want residual 4 × 3, inherent 4 × 4, the incident",
					when, r.GetResidual(), r.GetInherent(), r.GetIncidents())
			}
			h := history("untouched")
			last := h[len(h)-1]
			if len(h) != 2 || last.GetCause() != inc.GetName() || last.GetActor() != "service:risk" ||
				last.GetFromResidual().GetLikelihood() != 3 || last.GetToResidual().GetLikelihood() != 4 ||
				!last.GetChangeTime().AsTime().Equal(resolved) {
				t.Errorf("%s: history of risks/untouched = %v; want a second change caused by the incident at its resolution", when, h)
			}
			for _, id := range []string{"reassessed", "closed", "unscored", "top"} {
				r, err := d.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/" + id})
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(r, before[id]) {
					t.Errorf("%s: risks/%s changed:\n%v\nto\n%v", when, id, before[id], r)
				}
			}
			if n := countEvents(t, d.db, ".risk.score_changed", "risks/untouched"); n != 2 {
				t.Errorf("%s: %d risk.score_changed events of risks/untouched; want 2 (its assessment and the incident)", when, n)
			}
		}
		check("after the resolution")
		d.clock.Advance(time.Minute)
		if _, err := d.inc.ResolveIncident(ctx, resolve); err != nil {
			t.Fatalf("retried resolution: %v", err)
		}
		check("after a retried resolution")
	})
}
