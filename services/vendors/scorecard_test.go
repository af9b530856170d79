package vendors_test

import (
	"context"
	"slices"
	"testing"
	"time"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// points are a scorecard's points per component, in order.
func points(sc *vendorsv1.Scorecard) []int32 {
	var out []int32
	for _, c := range sc.GetComponents() {
		out = append(out, c.GetPoints())
	}
	return out
}

func minors(ms []*moneypb.Money) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, minor(m))
	}
	return out
}

// TestScorecards follows acme, created on 2026-12-04, into 2027-Q2: a contract of 12 000.00 EUR
// a year for 2027 (3 000.00 a quarter), invoices of 3 150.00 in Q1 (105 %) and 500.00 in Q2, and
// a SOC 2 report expiring on 2027-05-15 (EXPIRING from 2027-03-16). Weights are the defaults:
// assessment 30, attestations 20, spend 20, incidents 15, SLA 15; acme has no assessment.
func TestScorecards(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()
		get := func(name string) (*vendorsv1.Scorecard, error) {
			return e.client.GetScorecard(ctx, &vendorsv1.GetScorecardRequest{Name: name})
		}

		// The creation quarter has a scorecard without data: the incidents and SLA components
		// earn their weight (no incident source yet), spend too (no spend), the rest nothing.
		sc, err := get("vendors/acme/scorecards/2026-Q4")
		if err != nil || sc.GetQuarter() != "2026-Q4" || sc.GetScore() != 50 || !slices.Equal(points(sc), []int32{0, 0, 20, 15, 15}) ||
			sc.GetAttestationStatus() != vendorsv1.Scorecard_NONE || sc.GetRiskRating() != vendorsv1.RiskRating_RISK_RATING_UNSPECIFIED ||
			len(sc.GetSpend()) != 0 || len(sc.GetContractValue()) != 0 || sc.GetIncidentCount() != 0 {
			t.Fatalf("2026-Q4 = %v, %v; want score 50 from spend, incidents and SLA", sc, err)
		}
		// Before the vendor's creation and after today: NOT_FOUND.
		for _, q := range []string{"2026-Q3", "2027-Q1"} {
			_, err = get("vendors/acme/scorecards/" + q)
			e.AssertStatus(t, err, codes.NotFound, "SCORECARD_NOT_FOUND")
		}
		_, err = get("vendors/nobody/scorecards/2026-Q4")
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		_, err = get("vendors/acme/scorecards/2026-Q5")
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")

		// Nothing happened in 2026-Q4: the list is empty.
		list, err := e.client.ListScorecards(ctx, &vendorsv1.ListScorecardsRequest{Parent: "vendors/acme"})
		if err != nil || len(list.GetScorecards()) != 0 || list.GetNextPageToken() != "" {
			t.Errorf("ListScorecards before any contract = %v, %v; want none", list, err)
		}

		c := e.mustActive(t, "cloud", cloudContract())
		if _, err := e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme", AttestationId: "soc2",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_SOC2_TYPE_II, DisplayName: "SOC 2 Type II 2026",
				ExpiryDate: day(2027, 5, 15)}}); err != nil {
			t.Fatal(err)
		}

		// Into the second quarter of 2027: the invoices of the first and of the second.
		e.clock.Set(time.Date(2027, 4, 10, 9, 0, 0, 0, time.UTC))
		for i, inv := range []*vendorsv1.Invoice{
			{InvoiceNumber: "INV-1", Amount: eur(105_000), InvoiceDate: day(2027, 1, 31)},
			{InvoiceNumber: "INV-2", Amount: eur(105_000), InvoiceDate: day(2027, 2, 28)},
			{InvoiceNumber: "INV-3", Amount: eur(105_000), InvoiceDate: day(2027, 3, 31)},
			{InvoiceNumber: "INV-4", Amount: eur(50_000), InvoiceDate: day(2027, 4, 5)},
		} {
			if _, err := e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: inv}); err != nil {
				t.Fatalf("invoice %d: %v", i+1, err)
			}
		}

		for _, w := range []struct {
			quarter     string
			spend, cv   []int64
			ratio       int32
			attestation vendorsv1.Scorecard_AttestationStatus
			points      []int32
			score       int32
		}{
			// On 2026-12-31 the report was VALID; no spend, no contract in force.
			{"2026-Q4", nil, nil, -1, vendorsv1.Scorecard_VALID, []int32{0, 20, 20, 15, 15}, 70},
			// On 2027-03-31 EXPIRING (half); 105 % of 3 000.00 (half).
			{"2027-Q1", []int64{315_000}, []int64{300_000}, 105, vendorsv1.Scorecard_EXPIRING, []int32{0, 10, 10, 15, 15}, 50},
			// Today (2027-04-10) EXPIRING; 500.00 of 3 000.00 is 17 %.
			{"2027-Q2", []int64{50_000}, []int64{300_000}, 17, vendorsv1.Scorecard_EXPIRING, []int32{0, 10, 20, 15, 15}, 60},
		} {
			sc, err := get("vendors/acme/scorecards/" + w.quarter)
			if err != nil {
				t.Fatalf("%s: %v", w.quarter, err)
			}
			ratio := int32(-1)
			if len(sc.GetSpendRatios()) == 1 && sc.GetSpendRatios()[0].GetCurrencyCode() == "EUR" {
				ratio = sc.GetSpendRatios()[0].GetPercent()
			}
			if !slices.Equal(minors(sc.GetSpend()), w.spend) || !slices.Equal(minors(sc.GetContractValue()), w.cv) || ratio != w.ratio ||
				sc.GetAttestationStatus() != w.attestation || !slices.Equal(points(sc), w.points) || sc.GetScore() != w.score {
				t.Errorf("%s = %v; want spend %v, contract value %v, ratio %d, %v, points %v, score %d",
					w.quarter, sc, w.spend, w.cv, w.ratio, w.attestation, w.points, w.score)
			}
		}

		// Listed newest first, one a page: the quarters with an invoice or a contract in force.
		quarters, pages := testkit.AllPages(t, func(token string) ([]string, string, error) {
			resp, err := e.client.ListScorecards(ctx, &vendorsv1.ListScorecardsRequest{Parent: "vendors/acme", PageSize: 1, PageToken: token})
			var out []string
			for _, sc := range resp.GetScorecards() {
				out = append(out, sc.GetName())
			}
			return out, resp.GetNextPageToken(), err
		})
		if want := []string{"vendors/acme/scorecards/2027-Q2", "vendors/acme/scorecards/2027-Q1"}; !slices.Equal(quarters, want) || pages != 2 {
			t.Errorf("listed %v in %d pages; want %v in 2", quarters, pages, want)
		}
		first, err := e.client.ListScorecards(ctx, &vendorsv1.ListScorecardsRequest{Parent: "vendors/acme", PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		e.seedVendor(t, "globex")
		_, err = e.client.ListScorecards(ctx, &vendorsv1.ListScorecardsRequest{Parent: "vendors/globex", PageSize: 1, PageToken: first.GetNextPageToken()})
		e.AssertStatus(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token")
		_, err = e.client.ListScorecards(ctx, &vendorsv1.ListScorecardsRequest{Parent: "vendors/nobody"})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")

		// Spend and contract value are for vendors.finance; the ratio shows no amount.
		reader := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/reader", "vendors.read"))
		sc, err = reader.GetScorecard(ctx, &vendorsv1.GetScorecardRequest{Name: "vendors/acme/scorecards/2027-Q1"})
		if err != nil || len(sc.GetSpend()) != 0 || len(sc.GetContractValue()) != 0 || len(sc.GetSpendRatios()) != 1 || sc.GetScore() != 50 {
			t.Errorf("scorecard for a reader without vendors.finance = %v, %v; want no amounts, the ratio and the score", sc, err)
		}
	})
}
