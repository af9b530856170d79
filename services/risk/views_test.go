package risk_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// identify creates the risk id of a category and owner, and assesses it when inherent is given
// (likelihood, impact; residual too when given).
func identify(t *testing.T, e *env, id string, category riskv1.Risk_Category, owner string, scores ...[2]int32) *riskv1.Risk {
	t.Helper()
	ctx := context.Background()
	r, err := e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: id,
		Risk: &riskv1.Risk{Title: "Risk " + id, Category: category, Owner: owner}})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	if len(scores) == 0 {
		return r
	}
	return assess(t, e, r.GetName(), scores...)
}

// assess scores the risk: inherent, and residual when given.
func assess(t *testing.T, e *env, name string, scores ...[2]int32) *riskv1.Risk {
	t.Helper()
	req := &riskv1.AssessRiskRequest{Name: name, Reason: "workshop",
		Inherent: &riskv1.RiskScore{Likelihood: scores[0][0], Impact: scores[0][1]}}
	if len(scores) > 1 {
		req.Residual = &riskv1.RiskScore{Likelihood: scores[1][0], Impact: scores[1][1]}
	}
	r, err := e.client.AssessRisk(context.Background(), req)
	if err != nil {
		t.Fatalf("assess %s: %v", name, err)
	}
	return r
}

// cellsOf returns the cells of a heat map side that hold risks, as "likelihood×impact level
// score: count [names]".
func cellsOf(cells []*riskv1.HeatMapCell) []string {
	var out []string
	for _, c := range cells {
		if c.GetCount() > 0 {
			out = append(out, fmt.Sprintf("%d×%d %s %d: %d %v", c.GetLikelihood(), c.GetImpact(), c.GetLevel(),
				c.GetScore(), c.GetCount(), c.GetRisks()))
		}
	}
	return out
}

// TestRiskHeatMap counts a small register on every engine: by inherent and residual cell, with
// the filters of ListRisks, with the names of the risks per cell, and on another matrix version.
func TestRiskHeatMap(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		identify(t, e, "ransomware", riskv1.Risk_CYBERSECURITY, "ciso@example.com", [2]int32{4, 5}, [2]int32{3, 4})
		identify(t, e, "phishing", riskv1.Risk_CYBERSECURITY, "ciso@example.com", [2]int32{4, 5}, [2]int32{2, 3})
		identify(t, e, "erp", riskv1.Risk_TECHNOLOGY_ADOPTION, "cio@example.com", [2]int32{3, 4})
		identify(t, e, "dba", riskv1.Risk_PEOPLE, "cio@example.com")
		identify(t, e, "gdpr", riskv1.Risk_COMPLIANCE, "dpo@example.com", [2]int32{2, 5}, [2]int32{2, 2})
		if _, err := e.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: "risks/gdpr", Reason: "processing stopped"}); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct {
			name                     string
			req                      *riskv1.GetRiskHeatMapRequest
			total, unscored, outside int64
			inherent, residual       []string
		}{
			{"every open risk", &riskv1.GetRiskHeatMapRequest{}, 4, 1, 0,
				[]string{"3×4 HIGH 12: 1 []", "4×5 CRITICAL 20: 2 []"},
				[]string{"2×3 MEDIUM 6: 1 []", "3×4 HIGH 12: 2 []"}},
			// Blanks are no filter: the default, not an SQL condition of nothing.
			{"a blank filter", &riskv1.GetRiskHeatMapRequest{Filter: "   "}, 4, 1, 0,
				[]string{"3×4 HIGH 12: 1 []", "4×5 CRITICAL 20: 2 []"},
				[]string{"2×3 MEDIUM 6: 1 []", "3×4 HIGH 12: 2 []"}},
			{"with one name per cell", &riskv1.GetRiskHeatMapRequest{RisksPerCell: 1}, 4, 1, 0,
				[]string{"3×4 HIGH 12: 1 [risks/erp]", "4×5 CRITICAL 20: 2 [risks/phishing]"},
				[]string{"2×3 MEDIUM 6: 1 [risks/phishing]", "3×4 HIGH 12: 2 [risks/erp]"}},
			{"with every name", &riskv1.GetRiskHeatMapRequest{RisksPerCell: 1000}, 4, 1, 0,
				[]string{"3×4 HIGH 12: 1 [risks/erp]", "4×5 CRITICAL 20: 2 [risks/phishing risks/ransomware]"},
				[]string{"2×3 MEDIUM 6: 1 [risks/phishing]", "3×4 HIGH 12: 2 [risks/erp risks/ransomware]"}},
			{"a category", &riskv1.GetRiskHeatMapRequest{Filter: "category = CYBERSECURITY"}, 2, 0, 0,
				[]string{"4×5 CRITICAL 20: 2 []"},
				[]string{"2×3 MEDIUM 6: 1 []", "3×4 HIGH 12: 1 []"}},
			{"an owner", &riskv1.GetRiskHeatMapRequest{Filter: `owner = "cio@example.com"`, RisksPerCell: 5}, 2, 1, 0,
				[]string{"3×4 HIGH 12: 1 [risks/erp]"},
				[]string{"3×4 HIGH 12: 1 [risks/erp]"}},
			// A filter replaces the default: it may select CLOSED risks.
			{"the closed risks", &riskv1.GetRiskHeatMapRequest{Filter: "state = CLOSED", RisksPerCell: 5}, 1, 0, 0,
				[]string{"2×5 HIGH 10: 1 [risks/gdpr]"},
				[]string{"2×2 LOW 4: 1 [risks/gdpr]"}},
			{"nothing", &riskv1.GetRiskHeatMapRequest{Filter: `owner = "nobody@example.com"`}, 0, 0, 0, nil, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				hm, err := e.client.GetRiskHeatMap(ctx, c.req)
				if err != nil {
					t.Fatal(err)
				}
				if hm.GetTotalCount() != c.total || hm.GetUnscoredCount() != c.unscored || hm.GetOutsideMatrixCount() != c.outside {
					t.Errorf("total %d, unscored %d, outside the matrix %d; want %d, %d, %d", hm.GetTotalCount(),
						hm.GetUnscoredCount(), hm.GetOutsideMatrixCount(), c.total, c.unscored, c.outside)
				}
				if got := cellsOf(hm.GetInherent()); !slices.Equal(got, c.inherent) {
					t.Errorf("inherent cells %q; want %q", got, c.inherent)
				}
				if got := cellsOf(hm.GetResidual()); !slices.Equal(got, c.residual) {
					t.Errorf("residual cells %q; want %q", got, c.residual)
				}
				// Every cell of the 5×5 matrix is there, ordered by likelihood then impact.
				for _, side := range [][]*riskv1.HeatMapCell{hm.GetInherent(), hm.GetResidual()} {
					if len(side) != 25 || side[0].GetLikelihood() != 1 || side[0].GetImpact() != 1 || side[0].GetLevel() != riskv1.RiskLevel_LOW ||
						side[1].GetImpact() != 2 || side[24].GetLikelihood() != 5 || side[24].GetImpact() != 5 ||
						side[24].GetLevel() != riskv1.RiskLevel_CRITICAL || side[24].GetScore() != 25 {
						t.Errorf("cells %v; want the 25 cells of the default matrix in order", side)
					}
				}
				if hm.GetMatrix().GetVersion() != 1 || hm.GetComputeTime() == nil {
					t.Errorf("matrix version %d, compute time %v; want version 1 and a time", hm.GetMatrix().GetVersion(), hm.GetComputeTime())
				}
			})
		}

		// A filter on a risk's links reads another table for each risk: counts and names agree.
		if _, err := e.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: "risks/erp", Vendors: []string{"vendors/sap"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"vendors"}}}); err != nil {
			t.Fatal(err)
		}
		hm, err := e.client.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{Filter: `vendors:"vendors/sap"`, RisksPerCell: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cellsOf(hm.GetInherent()), []string{"3×4 HIGH 12: 1 [risks/erp]"}; hm.GetTotalCount() != 1 || !slices.Equal(got, want) {
			t.Errorf("the risks of vendors/sap: total %d, inherent cells %q; want 1, %q", hm.GetTotalCount(), got, want)
		}

		for _, bad := range []struct {
			req    *riskv1.GetRiskHeatMapRequest
			reason string
		}{
			{&riskv1.GetRiskHeatMapRequest{Filter: "colour = red"}, "INVALID_ARGUMENT"},
			{&riskv1.GetRiskHeatMapRequest{Filter: "category = PURPLE"}, "INVALID_ARGUMENT"},
			{&riskv1.GetRiskHeatMapRequest{Filter: "state ="}, "INVALID_ARGUMENT"},
		} {
			_, err := e.client.GetRiskHeatMap(ctx, bad.req)
			e.AssertStatus(t, err, codes.InvalidArgument, bad.reason, "filter")
		}
		_, err = e.client.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{RisksPerCell: 1001})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risks_per_cell")
		_, err = e.client.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{MatrixVersion: 7})
		e.AssertStatus(t, err, codes.NotFound, "MATRIX_VERSION_NOT_FOUND")
	})
}

// TestRiskHeatMapOnAnotherMatrix lays risks scored on the default 5×5 matrix out on a 4×4
// version of it: those scored on the fifth step of an axis are outside it.
func TestRiskHeatMapOnAnotherMatrix(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		identify(t, e, "ransomware", riskv1.Risk_CYBERSECURITY, "ciso@example.com", [2]int32{4, 5}, [2]int32{3, 4})
		identify(t, e, "erp", riskv1.Risk_TECHNOLOGY_ADOPTION, "cio@example.com", [2]int32{3, 4}, [2]int32{2, 2})
		four := &riskv1.RiskMatrix{Name: "riskMatrix", Description: "four steps"}
		for _, label := range []string{"Rare", "Unlikely", "Likely", "Almost certain"} {
			four.LikelihoodLevels = append(four.LikelihoodLevels, &riskv1.AxisLevel{Label: label})
		}
		for _, label := range []string{"Minor", "Moderate", "Major", "Severe"} {
			four.ImpactLevels = append(four.ImpactLevels, &riskv1.AxisLevel{Label: label})
		}
		for l := int32(1); l <= 4; l++ {
			for i := int32(1); i <= 4; i++ {
				level := riskv1.RiskLevel_LOW
				if l*i >= 8 {
					level = riskv1.RiskLevel_HIGH
				}
				four.Cells = append(four.Cells, &riskv1.MatrixCell{Likelihood: l, Impact: i, Level: level})
			}
		}
		if _, err := e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: four}); err != nil {
			t.Fatalf("%v %v", err, status.Convert(err).Details())
		}
		hm, err := e.client.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if hm.GetMatrix().GetVersion() != 2 || len(hm.GetInherent()) != 16 || hm.GetTotalCount() != 2 || hm.GetOutsideMatrixCount() != 1 {
			t.Errorf("version %d, %d cells, total %d, outside %d; want version 2, 16 cells, 2 risks, 1 outside",
				hm.GetMatrix().GetVersion(), len(hm.GetInherent()), hm.GetTotalCount(), hm.GetOutsideMatrixCount())
		}
		// ransomware's inherent cell 4×5 is outside; its residual cell 3×4 is inside, at the
		// level this version gives it.
		if got, want := cellsOf(hm.GetInherent()), []string{"3×4 HIGH 12: 1 []"}; !slices.Equal(got, want) {
			t.Errorf("inherent cells %q; want %q", got, want)
		}
		if got, want := cellsOf(hm.GetResidual()), []string{"2×2 LOW 4: 1 []", "3×4 HIGH 12: 1 []"}; !slices.Equal(got, want) {
			t.Errorf("residual cells %q; want %q", got, want)
		}
		// The version they were scored on still lays them all out.
		hm, err = e.client.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{MatrixVersion: 1})
		if err != nil {
			t.Fatal(err)
		}
		if hm.GetMatrix().GetVersion() != 1 || len(hm.GetInherent()) != 25 || hm.GetOutsideMatrixCount() != 0 {
			t.Errorf("version %d, %d cells, outside %d; want version 1, 25 cells, none outside",
				hm.GetMatrix().GetVersion(), len(hm.GetInherent()), hm.GetOutsideMatrixCount())
		}
	})
}

// entriesOf returns a report's entries as "rank name residual trend delta changes since".
func entriesOf(r *riskv1.RiskRegisterReport) []string {
	var out []string
	for _, e := range r.GetEntries() {
		since := "-"
		if s := e.GetResidualSince(); s != nil {
			since = fmt.Sprintf("%d×%d=%d %s", s.GetLikelihood(), s.GetImpact(), s.GetScore(), s.GetLevel())
		}
		out = append(out, fmt.Sprintf("%d %s %d %s %+d %d %s", e.GetRank(), e.GetRisk().GetName(),
			e.GetRisk().GetResidual().GetScore(), e.GetTrend(), e.GetScoreDelta(), e.GetChangeCount(), since))
	}
	return out
}

// TestRiskRegisterReport builds a register over 100 days with a clock the test moves, and reads
// the report: the top risks in order with their trend from the score history, and the totals.
func TestRiskRegisterReport(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		clk := clock.NewFake(t0)
		e := start(t, db, func(o *host.Options) { o.Clock = clk })
		ctx := context.Background()

		// 2 March: the first workshop.
		identify(t, e, "ransomware", riskv1.Risk_CYBERSECURITY, "ciso@example.com", [2]int32{4, 5}, [2]int32{4, 4})
		identify(t, e, "erp", riskv1.Risk_TECHNOLOGY_ADOPTION, "cio@example.com", [2]int32{3, 3})
		identify(t, e, "backup", riskv1.Risk_OPERATIONAL, "cio@example.com", [2]int32{2, 2})
		identify(t, e, "datacentre", riskv1.Risk_OPERATIONAL, "cio@example.com", [2]int32{5, 5})
		if _, err := e.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: "risks/datacentre", Reason: "moved to the cloud"}); err != nil {
			t.Fatal(err)
		}
		// 11 April: ransomware treated, erp worse, a new risk, one not scored yet.
		clk.Set(t0.AddDate(0, 0, 40))
		assess(t, e, "risks/ransomware", [2]int32{4, 5}, [2]int32{2, 4})
		assess(t, e, "risks/erp", [2]int32{4, 4}, [2]int32{4, 3})
		identify(t, e, "ai-tool", riskv1.Risk_TECHNOLOGY_ADOPTION, "cto@example.com", [2]int32{5, 5}, [2]int32{3, 5})
		identify(t, e, "vendor-lock-in", riskv1.Risk_VENDOR, "cto@example.com")
		// 10 June: vendor-lock-in is 30 days past the day it was due for its first assessment.
		clk.Set(t0.AddDate(0, 0, 100))

		since := &date.Date{Year: 2026, Month: 3, Day: 22}
		r, err := e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{SinceDate: since})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"1 risks/ai-tool 15 NEW +15 1 -",
			"2 risks/erp 12 UP +3 1 3×3=9 MEDIUM",
			"3 risks/ransomware 8 DOWN -8 1 4×4=16 HIGH",
			"4 risks/backup 4 STEADY +0 0 2×2=4 LOW",
		}
		if got := entriesOf(r); !slices.Equal(got, want) {
			t.Errorf("entries\n%q\nwant\n%q", got, want)
		}
		if r.GetOpenCount() != 5 || r.GetAboveAppetiteCount() != 2 || r.GetReviewOverdueCount() != 1 {
			t.Errorf("open %d, above appetite %d, review overdue %d; want 5, 2, 1", r.GetOpenCount(),
				r.GetAboveAppetiteCount(), r.GetReviewOverdueCount())
		}
		var levels []string
		for _, l := range r.GetLevelCounts() {
			levels = append(levels, fmt.Sprintf("%s %d", l.GetLevel(), l.GetCount()))
		}
		if want := []string{"CRITICAL 0", "HIGH 2", "MEDIUM 1", "LOW 1", "RISK_LEVEL_UNSPECIFIED 1"}; !slices.Equal(levels, want) {
			t.Errorf("level counts %q; want %q", levels, want)
		}
		if d := r.GetSinceDate(); d.GetYear() != 2026 || d.GetMonth() != 3 || d.GetDay() != 22 {
			t.Errorf("since date %v; want 2026-03-22", d)
		}

		// The top two; the default period, 90 days back to 12 March, sees the same changes; the
		// closed risks; a category.
		r, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{Top: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := entriesOf(r); !slices.Equal(got, want[:2]) {
			t.Errorf("top 2 by default since %q; want %q", got, want[:2])
		}
		// Blanks are no filter.
		r, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{Top: 2, Filter: "  "})
		if err != nil {
			t.Fatal(err)
		}
		if got := entriesOf(r); !slices.Equal(got, want[:2]) {
			t.Errorf("top 2 with a blank filter %q; want %q", got, want[:2])
		}
		if d := r.GetSinceDate(); d.GetYear() != 2026 || d.GetMonth() != 3 || d.GetDay() != 12 {
			t.Errorf("default since date %v; want 2026-03-12, 90 days before 10 June", d)
		}
		r, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{Filter: "state = CLOSED"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := entriesOf(r), []string{"1 risks/datacentre 25 STEADY +0 0 5×5=25 CRITICAL"}; !slices.Equal(got, want) || r.GetOpenCount() != 0 {
			t.Errorf("closed: %q, open %d; want %q, 0 open", got, r.GetOpenCount(), want)
		}
		// The period may start today: every change was before it, so nothing moved.
		r, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{
			SinceDate: &date.Date{Year: 2026, Month: 6, Day: 10}, Filter: "category = TECHNOLOGY_ADOPTION"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := entriesOf(r), []string{"1 risks/ai-tool 15 STEADY +0 0 3×5=15 HIGH", "2 risks/erp 12 STEADY +0 0 4×3=12 HIGH"}; !slices.Equal(got, want) || r.GetOpenCount() != 2 {
			t.Errorf("since today, technology adoption: %q, open %d; want %q, 2 open", got, r.GetOpenCount(), want)
		}

		_, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{SinceDate: &date.Date{Year: 2026, Month: 6, Day: 11}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "since_date")
		_, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{SinceDate: &date.Date{Year: 2026, Month: 2, Day: 30}})
		e.AssertStatus(t, err, codes.InvalidArgument, "DATE_INVALID", "since_date")
		_, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{Top: 101})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "top")
		_, err = e.client.GetRiskRegisterReport(ctx, &riskv1.GetRiskRegisterReportRequest{Filter: "residual_level >"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")
	})
}
