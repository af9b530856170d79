package risk_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// clockEnv is a running risk service on a fake clock, with a connection to its database.
type clockEnv struct {
	*env
	clock *clock.Fake
	db    *sqldb.DB
}

// startAt runs the risk service on db with its clock (and its scheduler's) at now.
func startAt(t *testing.T, db testenv.Database, now time.Time) *clockEnv {
	t.Helper()
	fake := clock.NewFake(now)
	e := start(t, db, func(o *host.Options) {
		o.Clock = fake
		o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
	})
	return &clockEnv{env: e, clock: fake, db: e.DB(t)}
}

// events are the types of the events written about resource, in order ("risk.identified", …).
func events(t *testing.T, db *sqldb.DB, resource string) []string {
	t.Helper()
	subjects := testkit.Column[string](t, db, `SELECT subject FROM outbox WHERE resource_name = $1 ORDER BY seq`, resource)
	for i, s := range subjects {
		parts := strings.Split(s, ".")
		subjects[i] = strings.Join(parts[len(parts)-2:], ".")
	}
	return subjects
}

// versions are the aggregate versions of the events written about resource, in order.
func versions(t *testing.T, db *sqldb.DB, resource string) []int64 {
	t.Helper()
	return testkit.Column[int64](t, db, `SELECT aggregate_version FROM outbox WHERE resource_name = $1 ORDER BY seq`, resource)
}

func score(l, i int32) *riskv1.RiskScore { return &riskv1.RiskScore{Likelihood: l, Impact: i} }

func mustRisk(t *testing.T, e *clockEnv, id string, category riskv1.Risk_Category) *riskv1.Risk {
	t.Helper()
	r, err := e.client.CreateRisk(context.Background(), &riskv1.CreateRiskRequest{RiskId: id, Risk: &riskv1.Risk{
		Title: "Ransomware encrypts the ERP database", Category: category, Owner: "ana@example.com"}})
	if err != nil {
		t.Fatalf("create risk %s: %v", id, err)
	}
	return r
}

func mustAssess(t *testing.T, e *clockEnv, name string, inherent, residual *riskv1.RiskScore, reason string) *riskv1.Risk {
	t.Helper()
	r, err := e.client.AssessRisk(context.Background(), &riskv1.AssessRiskRequest{Name: name, Inherent: inherent, Residual: residual, Reason: reason})
	if err != nil {
		t.Fatalf("assess %s: %v", name, err)
	}
	return r
}

func sameDate(d *date.Date, want *date.Date) bool {
	return d.GetYear() == want.GetYear() && d.GetMonth() == want.GetMonth() && d.GetDay() == want.GetDay()
}

func TestDefaultMatrixAndItsVersions(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		m, err := e.client.GetRiskMatrix(ctx, &riskv1.GetRiskMatrixRequest{Name: "riskMatrix"})
		if err != nil {
			t.Fatal(err)
		}
		if m.GetVersion() != 1 || len(m.GetLikelihoodLevels()) != 5 || len(m.GetImpactLevels()) != 5 || len(m.GetCells()) != 25 {
			t.Fatalf("default matrix = v%d %dx%d with %d cells; want v1 5x5 with 25", m.GetVersion(),
				len(m.GetLikelihoodLevels()), len(m.GetImpactLevels()), len(m.GetCells()))
		}
		if m.GetLikelihoodLevels()[4].GetLabel() != "Almost certain" || m.GetImpactLevels()[0].GetLabel() != "Negligible" {
			t.Errorf("labels = %v / %v", m.GetLikelihoodLevels(), m.GetImpactLevels())
		}
		// LOW 1–4, MEDIUM 5–9, HIGH 10–16, CRITICAL 20–25, cell by cell.
		for _, c := range m.GetCells() {
			want := riskv1.RiskLevel_CRITICAL
			switch s := c.GetLikelihood() * c.GetImpact(); {
			case s <= 4:
				want = riskv1.RiskLevel_LOW
			case s <= 9:
				want = riskv1.RiskLevel_MEDIUM
			case s <= 16:
				want = riskv1.RiskLevel_HIGH
			}
			if c.GetLevel() != want || c.GetScore() != c.GetLikelihood()*c.GetImpact() {
				t.Errorf("cell %d×%d = %v (score %d); want %v", c.GetLikelihood(), c.GetImpact(), c.GetLevel(), c.GetScore(), want)
			}
		}

		// A 4×4 matrix in place of the default: version 2; version 1 stays readable.
		var cells []*riskv1.MatrixCell
		for l := int32(1); l <= 4; l++ {
			for i := int32(1); i <= 4; i++ {
				lvl := riskv1.RiskLevel(min(4, (l*i+3)/4))
				cells = append(cells, &riskv1.MatrixCell{Likelihood: l, Impact: i, Level: lvl})
			}
		}
		axis := func(labels ...string) []*riskv1.AxisLevel {
			var out []*riskv1.AxisLevel
			for _, l := range labels {
				out = append(out, &riskv1.AxisLevel{Label: l})
			}
			return out
		}
		upd := &riskv1.RiskMatrix{Name: "riskMatrix", Etag: m.GetEtag(), LikelihoodLevels: axis("Rare", "Possible", "Likely", "Certain"),
			ImpactLevels: axis("Low", "Medium", "High", "Severe"), Cells: cells, Description: "group ERM policy"}
		m2, err := e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: upd})
		if err != nil {
			t.Fatal(err)
		}
		if m2.GetVersion() != 2 || len(m2.GetCells()) != 16 || m2.GetCreator() == "" {
			t.Errorf("updated matrix = v%d, %d cells, creator %q", m2.GetVersion(), len(m2.GetCells()), m2.GetCreator())
		}
		// The old etag is stale now.
		_, err = e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: upd})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		v1, err := e.client.GetRiskMatrix(ctx, &riskv1.GetRiskMatrixRequest{Name: "riskMatrix/versions/1"})
		if err != nil || v1.GetVersion() != 1 || len(v1.GetCells()) != 25 || v1.GetName() != "riskMatrix/versions/1" {
			t.Errorf("version 1 = %v, %v", v1, err)
		}
		_, err = e.client.GetRiskMatrix(ctx, &riskv1.GetRiskMatrixRequest{Name: "riskMatrix/versions/3"})
		e.AssertStatus(t, err, codes.NotFound, "MATRIX_VERSION_NOT_FOUND")
		list, err := e.client.ListRiskMatrixVersions(ctx, &riskv1.ListRiskMatrixVersionsRequest{PageSize: 1})
		if err != nil || len(list.GetRiskMatrices()) != 1 || list.GetRiskMatrices()[0].GetVersion() != 2 || list.GetNextPageToken() == "" {
			t.Fatalf("first page = %v, %v", list, err)
		}
		list, err = e.client.ListRiskMatrixVersions(ctx, &riskv1.ListRiskMatrixVersionsRequest{PageSize: 1, PageToken: list.GetNextPageToken()})
		if err != nil || len(list.GetRiskMatrices()) != 1 || list.GetRiskMatrices()[0].GetVersion() != 1 || list.GetNextPageToken() != "" {
			t.Fatalf("second page = %v, %v", list, err)
		}
		_, err = e.client.ListRiskMatrixVersions(ctx, &riskv1.ListRiskMatrixVersionsRequest{PageToken: "2"})
		e.AssertStatus(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token")
		if got := events(t, e.db, "riskMatrix"); !slices.Equal(got, []string{"risk_matrix.updated"}) {
			t.Errorf("events = %v", got)
		}

		// A matrix with a missing cell, and one whose levels fall as the score rises.
		_, err = e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: &riskv1.RiskMatrix{Name: "riskMatrix", Cells: cells[1:]},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"cells"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk_matrix.cells")
		bad := slices.Clone(cells)
		bad[15] = &riskv1.MatrixCell{Likelihood: 4, Impact: 4, Level: riskv1.RiskLevel_LOW}
		_, err = e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: &riskv1.RiskMatrix{Name: "riskMatrix", Cells: bad},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"cells"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk_matrix.cells")
		// Changing the matrix is a governance decision: risk.approve.
		writer := riskv1.NewRiskServiceClient(e.ConnAs(t, "apiKeys/writer", "risk.read", "risk.write"))
		_, err = writer.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: &riskv1.RiskMatrix{Name: "riskMatrix", Description: "x"}})
		e.AssertStatus(t, err, codes.PermissionDenied, "MISSING_SCOPE")
	})
}

func TestRiskLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		r := mustRisk(t, e, "erp-ransomware", riskv1.Risk_CYBERSECURITY)
		// Identified, unscored, due for assessment in 30 days.
		if r.GetState() != riskv1.Risk_IDENTIFIED || r.GetInherent() != nil || r.GetMatrixVersion() != 0 || !sameDate(r.GetNextReviewDate(), day(2027, 1, 3)) {
			t.Errorf("created = %v", r)
		}
		// A residual score above the inherent, a likelihood off the matrix, no inherent score.
		_, err := e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Inherent: score(2, 2), Residual: score(3, 3), Reason: "x"})
		e.AssertStatus(t, err, codes.InvalidArgument, "RESIDUAL_ABOVE_INHERENT", "residual")
		_, err = e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Inherent: score(6, 2), Reason: "x"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "inherent.likelihood")
		_, err = e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Residual: score(1, 1), Reason: "x"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "inherent")
		_, err = e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Inherent: score(2, 2)})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason")

		// Inherent 4×5 = 20 CRITICAL, residual 3×4 = 12 HIGH: above the default appetite (MEDIUM),
		// reviewed every 90 days.
		e.clock.Set(dec4.Add(time.Hour))
		a := mustAssess(t, e, r.GetName(), score(4, 5), score(3, 4), "no offline backups")
		if a.GetState() != riskv1.Risk_ASSESSED || a.GetInherent().GetScore() != 20 || a.GetInherent().GetLevel() != riskv1.RiskLevel_CRITICAL ||
			a.GetResidual().GetScore() != 12 || a.GetResidual().GetLevel() != riskv1.RiskLevel_HIGH || a.GetMatrixVersion() != 1 ||
			!a.GetAboveAppetite() || !sameDate(a.GetNextReviewDate(), day(2027, 3, 4)) || a.GetAssessor() == "" {
			t.Errorf("assessed = %v", a)
		}
		// The same scores again: an assessment, no score change, no second crossing.
		mustAssess(t, e, r.GetName(), nil, nil, "unchanged after the quarterly review")
		// Residual down to 2×4 = 8 MEDIUM: within appetite; then up again to 3×4: a new crossing.
		a = mustAssess(t, e, r.GetName(), nil, score(2, 4), "offline backups in place")
		if a.GetAboveAppetite() || a.GetResidual().GetLevel() != riskv1.RiskLevel_MEDIUM || !sameDate(a.GetNextReviewDate(), day(2027, 6, 2)) {
			t.Errorf("mitigated = %v", a)
		}
		a = mustAssess(t, e, r.GetName(), nil, score(3, 4), "backups found untested")
		want := []string{"risk.identified",
			"risk.assessed", "risk.score_changed", "risk.above_appetite",
			"risk.assessed",
			"risk.assessed", "risk.score_changed",
			"risk.assessed", "risk.score_changed", "risk.above_appetite"}
		if got := events(t, e.db, r.GetName()); !slices.Equal(got, want) {
			t.Errorf("events =\n%v; want\n%v", got, want)
		}
		// Every event of the risk has a version of its own, in order.
		vs := versions(t, e.db, r.GetName())
		for i := 1; i < len(vs); i++ {
			if vs[i] <= vs[i-1] {
				t.Errorf("versions = %v; want each higher than the last", vs)
				break
			}
		}

		// The history: three changes, oldest first, each with who, when, why, from and to.
		h, err := e.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.GetRiskScoreChanges()) != 3 {
			t.Fatalf("history = %v", h)
		}
		first, last := h.GetRiskScoreChanges()[0], h.GetRiskScoreChanges()[2]
		if first.GetName() != r.GetName()+"/scoreChanges/00000001" || first.GetFromInherent() != nil || first.GetToInherent().GetScore() != 20 ||
			first.GetToResidual().GetScore() != 12 || first.GetReason() != "no offline backups" || first.GetActor() == "" ||
			first.GetFromMatrixVersion() != 0 || first.GetToMatrixVersion() != 1 || !first.GetChangeTime().AsTime().Equal(dec4.Add(time.Hour)) {
			t.Errorf("first change = %v", first)
		}
		if last.GetFromResidual().GetScore() != 8 || last.GetToResidual().GetScore() != 12 || last.GetReason() != "backups found untested" {
			t.Errorf("last change = %v", last)
		}
		// Across risks, and filtered.
		all, err := e.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: "risks/-", Filter: "to_residual_score >= 12"})
		if err != nil || len(all.GetRiskScoreChanges()) != 2 {
			t.Errorf("changes with a residual score of 12 or more = %v, %v", all, err)
		}

		// Treatment needs a treatment; then MONITORING, CLOSED; a closed risk is not assessed.
		_, err = e.client.StartRiskTreatment(ctx, &riskv1.StartRiskTreatmentRequest{Name: r.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "TREATMENT_REQUIRED")
		_, err = e.client.MonitorRisk(ctx, &riskv1.MonitorRiskRequest{Name: r.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		tr, err := e.client.StartRiskTreatment(ctx, &riskv1.StartRiskTreatmentRequest{Name: r.GetName(), Etag: a.GetEtag(),
			Treatment: riskv1.Risk_MITIGATE, TreatmentPlan: "immutable backups, EDR on servers"})
		if err != nil || tr.GetState() != riskv1.Risk_TREATING || tr.GetTreatment() != riskv1.Risk_MITIGATE {
			t.Fatalf("start treatment = %v, %v", tr, err)
		}
		_, err = e.client.MonitorRisk(ctx, &riskv1.MonitorRiskRequest{Name: r.GetName(), Etag: a.GetEtag()})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		if mo, err := e.client.MonitorRisk(ctx, &riskv1.MonitorRiskRequest{Name: r.GetName()}); err != nil || mo.GetState() != riskv1.Risk_MONITORING {
			t.Fatalf("monitor = %v, %v", mo, err)
		}
		_, err = e.client.DeleteRisk(ctx, &riskv1.DeleteRiskRequest{Name: r.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "RISK_NOT_IDENTIFIED")
		cl, err := e.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: r.GetName(), Reason: "ERP replaced by SaaS"})
		if err != nil || cl.GetState() != riskv1.Risk_CLOSED || cl.GetNextReviewDate() != nil || cl.GetAboveAppetite() || cl.GetStateReason() != "ERP replaced by SaaS" {
			t.Fatalf("close = %v, %v", cl, err)
		}
		_, err = e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Inherent: score(1, 1), Reason: "x"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "RISK_CLOSED")
		_, err = e.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: r.GetName(), Title: "x"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "RISK_CLOSED")
		// Reopened: ASSESSED again, above appetite again (a new crossing), due for review.
		ro, err := e.client.ReopenRisk(ctx, &riskv1.ReopenRiskRequest{Name: r.GetName(), Reason: "SaaS migration cancelled"})
		if err != nil || ro.GetState() != riskv1.Risk_ASSESSED || !ro.GetAboveAppetite() || ro.GetNextReviewDate() == nil {
			t.Fatalf("reopen = %v, %v", ro, err)
		}
		tail := events(t, e.db, r.GetName())[len(want):]
		if !slices.Equal(tail, []string{"risk.treatment_started", "risk.monitoring_started", "risk.closed", "risk.reopened", "risk.above_appetite"}) {
			t.Errorf("lifecycle events = %v", tail)
		}

		// An identified risk can be deleted, with its history and review.
		d := mustRisk(t, e, "typo", riskv1.Risk_OPERATIONAL)
		if _, err := e.client.DeleteRisk(ctx, &riskv1.DeleteRiskRequest{Name: d.GetName(), Etag: d.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: d.GetName()})
		e.AssertStatus(t, err, codes.NotFound, "RISK_NOT_FOUND")
	})
}

func TestRiskFieldsLinksAndLists(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		_, err := e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{Title: "x", Category: riskv1.Risk_VENDOR,
			Owner: "ana@example.com", Vendors: []string{"acme"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk.vendors[0]")
		_, err = e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{Title: "x", Category: riskv1.Risk_VENDOR}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk.owner")
		v, err := e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: "acme-outage", RequestId: "9f1c1f9e-6f4b-4b8e-9a39-3a3f2b6f1c01",
			Risk: &riskv1.Risk{Title: "Acme Cloud outage stops order intake", Category: riskv1.Risk_VENDOR, Owner: "ana@example.com",
				Vendors: []string{"vendors/acme"}, Incidents: []string{"incidents/inc-7"}, Controls: []string{"controls/bcp-02"}}})
		if err != nil {
			t.Fatal(err)
		}
		// The same request again is the same answer; another body with its request ID is refused.
		again, err := e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: "acme-outage", RequestId: "9f1c1f9e-6f4b-4b8e-9a39-3a3f2b6f1c01",
			Risk: &riskv1.Risk{Title: "Acme Cloud outage stops order intake", Category: riskv1.Risk_VENDOR, Owner: "ana@example.com",
				Vendors: []string{"vendors/acme"}, Incidents: []string{"incidents/inc-7"}, Controls: []string{"controls/bcp-02"}}})
		if err != nil || again.GetEtag() != v.GetEtag() {
			t.Errorf("retry = %v, %v", again, err)
		}
		_, err = e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: "acme-outage"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk")
		_, err = e.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: "acme-outage", Risk: &riskv1.Risk{Title: "y",
			Category: riskv1.Risk_VENDOR, Owner: "bo@example.com"}})
		e.AssertStatus(t, err, codes.AlreadyExists, "RISK_ALREADY_EXISTS")
		mustRisk(t, e, "phishing", riskv1.Risk_CYBERSECURITY)
		mustAssess(t, e, "risks/phishing", score(5, 3), score(3, 3), "awareness training yearly")

		list := func(filter, order string) []string {
			t.Helper()
			resp, err := e.client.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: filter, OrderBy: order})
			if err != nil {
				t.Fatalf("list %q: %v", filter, err)
			}
			var names []string
			for _, r := range resp.GetRisks() {
				names = append(names, r.GetName())
			}
			return names
		}
		for _, c := range []struct {
			filter, order string
			want          []string
		}{
			{`vendors:"vendors/acme"`, "", []string{"risks/acme-outage"}},
			{`controls:"controls/bcp-02" AND category = VENDOR`, "", []string{"risks/acme-outage"}},
			{`residual_level = MEDIUM`, "", []string{"risks/phishing"}},
			{`residual_score >= 9 AND state = ASSESSED`, "", []string{"risks/phishing"}},
			{`state = IDENTIFIED`, "", []string{"risks/acme-outage"}},
			{"", "residual_score desc", []string{"risks/phishing", "risks/acme-outage"}},
			{"", "next_review_date", []string{"risks/acme-outage", "risks/phishing"}},
		} {
			if got := list(c.filter, c.order); !slices.Equal(got, c.want) {
				t.Errorf("list %q %q = %v; want %v", c.filter, c.order, got, c.want)
			}
		}
		_, err = e.client.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: "colour = red"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")

		// Update: links replaced whole; the list follows.
		u, err := e.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: v.GetName(), Etag: v.GetEtag(),
			Vendors: []string{"vendors/globex"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"vendors"}}})
		if err != nil || !slices.Equal(u.GetVendors(), []string{"vendors/globex"}) || !slices.Equal(u.GetIncidents(), []string{"incidents/inc-7"}) {
			t.Fatalf("update = %v, %v", u, err)
		}
		if got := list(`vendors:"vendors/acme"`, ""); len(got) != 0 {
			t.Errorf("risks of acme after the update = %v", got)
		}
		_, err = e.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: v.GetName()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"residual"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")
		// A change of category measures the risk against its new category's appetite.
		if _, err := e.client.UpdateRiskAppetite(ctx, &riskv1.UpdateRiskAppetiteRequest{RiskAppetite: &riskv1.RiskAppetite{Name: "riskAppetite",
			Categories: []*riskv1.CategoryAppetite{{Category: riskv1.Risk_COMPLIANCE, Level: riskv1.RiskLevel_LOW}}}}); err != nil {
			t.Fatal(err)
		}
		p, err := e.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: "risks/phishing", Category: riskv1.Risk_COMPLIANCE},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"category"}}})
		if err != nil || !p.GetAboveAppetite() {
			t.Fatalf("phishing as compliance = %v, %v", p, err)
		}
		if got := events(t, e.db, "risks/phishing"); !slices.Equal(got[len(got)-2:], []string{"risk.updated", "risk.above_appetite"}) {
			t.Errorf("events = %v", got)
		}
	})
}

func TestAppetite(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		a, err := e.client.GetRiskAppetite(ctx, &riskv1.GetRiskAppetiteRequest{Name: "riskAppetite"})
		if err != nil || a.GetDefaultLevel() != riskv1.RiskLevel_MEDIUM || len(a.GetCategories()) != 0 {
			t.Fatalf("default appetite = %v, %v", a, err)
		}
		// Two cybersecurity risks at MEDIUM (residual 3×3 = 9): within the default appetite.
		for _, id := range []string{"c1", "c2"} {
			mustRisk(t, e, id, riskv1.Risk_CYBERSECURITY)
			mustAssess(t, e, "risks/"+id, score(3, 3), nil, "first look")
		}
		mustRisk(t, e, "f1", riskv1.Risk_FINANCIAL)
		mustAssess(t, e, "risks/f1", score(3, 3), nil, "first look")
		if _, err := e.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: "risks/c2", Reason: "gone"}); err != nil {
			t.Fatal(err)
		}
		// Cybersecurity's appetite to LOW: the open cybersecurity risk crosses it, once; the closed
		// one and the financial one do not.
		a, err = e.client.UpdateRiskAppetite(ctx, &riskv1.UpdateRiskAppetiteRequest{RiskAppetite: &riskv1.RiskAppetite{Name: "riskAppetite", Etag: a.GetEtag(),
			Categories: []*riskv1.CategoryAppetite{{Category: riskv1.Risk_CYBERSECURITY, Level: riskv1.RiskLevel_LOW}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"categories"}}})
		if err != nil || len(a.GetCategories()) != 1 || a.GetUpdater() == "" {
			t.Fatalf("update appetite = %v, %v", a, err)
		}
		c1, _ := e.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/c1"})
		f1, _ := e.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/f1"})
		if !c1.GetAboveAppetite() || f1.GetAboveAppetite() {
			t.Errorf("above appetite: c1 %v, f1 %v; want true, false", c1.GetAboveAppetite(), f1.GetAboveAppetite())
		}
		// The same appetite again changes nothing and fires nothing.
		if _, err := e.client.UpdateRiskAppetite(ctx, &riskv1.UpdateRiskAppetiteRequest{RiskAppetite: &riskv1.RiskAppetite{Name: "riskAppetite",
			Categories: []*riskv1.CategoryAppetite{{Category: riskv1.Risk_CYBERSECURITY, Level: riskv1.RiskLevel_LOW}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"categories"}}}); err != nil {
			t.Fatal(err)
		}
		// Back to MEDIUM: within again (risk.updated), then LOW: a second crossing.
		for _, lvl := range []riskv1.RiskLevel{riskv1.RiskLevel_MEDIUM, riskv1.RiskLevel_LOW} {
			if _, err := e.client.UpdateRiskAppetite(ctx, &riskv1.UpdateRiskAppetiteRequest{RiskAppetite: &riskv1.RiskAppetite{Name: "riskAppetite",
				Categories: []*riskv1.CategoryAppetite{{Category: riskv1.Risk_CYBERSECURITY, Level: lvl}}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"categories"}}}); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"risk.identified", "risk.assessed", "risk.score_changed", "risk.above_appetite", "risk.updated", "risk.above_appetite"}
		if got := events(t, e.db, "risks/c1"); !slices.Equal(got, want) {
			t.Errorf("c1 events = %v; want %v", got, want)
		}
		for _, id := range []string{"risks/c2", "risks/f1"} {
			if got := events(t, e.db, id); slices.Contains(got, "risk.above_appetite") {
				t.Errorf("%s events = %v; want no crossing", id, got)
			}
		}
		if got := events(t, e.db, "riskAppetite"); len(got) != 3 {
			t.Errorf("appetite events = %v; want 3 updates", got)
		}
		_, err = e.client.UpdateRiskAppetite(ctx, &riskv1.UpdateRiskAppetiteRequest{RiskAppetite: &riskv1.RiskAppetite{Name: "riskAppetite",
			Categories: []*riskv1.CategoryAppetite{{Category: riskv1.Risk_PEOPLE, Level: riskv1.RiskLevel_LOW}, {Category: riskv1.Risk_PEOPLE, Level: riskv1.RiskLevel_HIGH}}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk_appetite.categories[1].category")
	})
}

func TestMatrixVersionKeptUntilReassessed(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		mustRisk(t, e, "r1", riskv1.Risk_OPERATIONAL)
		mustAssess(t, e, "risks/r1", score(2, 3), nil, "first look")
		// Version 2 makes the cell 2×3 CRITICAL (and every cell above it, to stay monotonic).
		m, _ := e.client.GetRiskMatrix(ctx, &riskv1.GetRiskMatrixRequest{Name: "riskMatrix"})
		cells := m.GetCells()
		for _, c := range cells {
			if c.GetLikelihood() >= 2 && c.GetImpact() >= 3 {
				c.Level = riskv1.RiskLevel_CRITICAL
			}
		}
		if _, err := e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: &riskv1.RiskMatrix{Name: "riskMatrix", Cells: cells},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"cells"}}}); err != nil {
			t.Fatal(err)
		}
		r, _ := e.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/r1"})
		if r.GetMatrixVersion() != 1 || r.GetResidual().GetLevel() != riskv1.RiskLevel_MEDIUM {
			t.Errorf("risk after the matrix change = v%d %v; want v1 MEDIUM", r.GetMatrixVersion(), r.GetResidual().GetLevel())
		}
		// Assessed again with the same likelihood and impact: version 2, CRITICAL, one history entry
		// for the new version.
		r = mustAssess(t, e, "risks/r1", nil, nil, "re-scored on the new matrix")
		if r.GetMatrixVersion() != 2 || r.GetResidual().GetLevel() != riskv1.RiskLevel_CRITICAL || r.GetInherent().GetLevel() != riskv1.RiskLevel_CRITICAL {
			t.Errorf("re-assessed = %v", r)
		}
		h, _ := e.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: "risks/r1"})
		if n := len(h.GetRiskScoreChanges()); n != 2 {
			t.Fatalf("history has %d changes; want 2", n)
		}
		if c := h.GetRiskScoreChanges()[1]; c.GetFromMatrixVersion() != 1 || c.GetToMatrixVersion() != 2 ||
			c.GetFromResidual().GetLevel() != riskv1.RiskLevel_MEDIUM || c.GetToResidual().GetLevel() != riskv1.RiskLevel_CRITICAL {
			t.Errorf("matrix change in the history = %v", c)
		}
	})
}

func TestReviewFallsDue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		mustRisk(t, e, "due", riskv1.Risk_PEOPLE)
		// CRITICAL residual (5×5): reviewed every 30 days, from today: due on 3 January.
		r := mustAssess(t, e, "risks/due", score(5, 5), nil, "one admin knows the payroll system")
		if !sameDate(r.GetNextReviewDate(), day(2027, 1, 3)) {
			t.Fatalf("next review = %v", r.GetNextReviewDate())
		}
		// A review on 20 December moves it to 19 January: nothing fires on 3 January.
		e.clock.Set(time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC))
		rv, err := e.client.ReviewRisk(ctx, &riskv1.ReviewRiskRequest{Name: "risks/due", Reason: "still one admin"})
		if err != nil || !sameDate(rv.GetNextReviewDate(), day(2027, 1, 19)) {
			t.Fatalf("review = %v, %v", rv, err)
		}
		e.clock.Set(time.Date(2027, 1, 3, 12, 0, 0, 0, time.UTC))
		due := time.Date(2027, 1, 19, 0, 0, 0, 0, time.UTC)
		waitAsleep(t, e.clock, due)
		if got := events(t, e.db, "risks/due"); slices.Contains(got, "risk.review_due") {
			t.Fatalf("events on 3 January = %v; the review moved", got)
		}
		e.clock.Set(due.Add(time.Minute))
		testkit.Eventually(t, 20*time.Second, func() error {
			if got := events(t, e.db, "risks/due"); !slices.Contains(got, "risk.review_due") {
				return fmt.Errorf("events = %v", got)
			}
			return nil
		})
		want := []string{"risk.identified", "risk.assessed", "risk.score_changed", "risk.above_appetite", "risk.reviewed", "risk.review_due"}
		if got := events(t, e.db, "risks/due"); !slices.Equal(got, want) {
			t.Errorf("events = %v; want %v", got, want)
		}
	})
}

// waitAsleep waits until the scheduler sleeps until due: everything due before has fired.
func waitAsleep(t *testing.T, c *clock.Fake, due time.Time) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(c.Waits(), due.Equal) {
			return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, c.Waits())
		}
		return nil
	})
}

// TestAcceptanceExpiryMakesReviewDue: an approved acceptance that expires makes its risk due for
// review the day after its expiry date, sooner than its cadence says, and risk.review_due fires
// that day.
func TestAcceptanceExpiryMakesReviewDue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "legacy-crm", true) // residual MEDIUM: next review in 180 days
		if !sameDate(rk.GetNextReviewDate(), day(2027, 6, 2)) {
			t.Fatalf("next review = %v", rk.GetNextReviewDate())
		}
		a, err := r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: rk.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "Until the CRM is replaced.", ExpiryDate: day(2027, 1, 31)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()}); err != nil {
			t.Fatal(err)
		}
		r.clock.Set(midnight(2027, 2, 1))
		testkit.Eventually(t, 20*time.Second, func() error {
			if got := events(t, r.db, rk.GetName()); !slices.Contains(got, "risk.review_due") {
				return fmt.Errorf("events = %v", got)
			}
			return nil
		})
		got, err := r.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()})
		if err != nil || !sameDate(got.GetNextReviewDate(), day(2027, 2, 1)) {
			t.Errorf("risk after the expiry = %v, %v", got, err)
		}
		tail := events(t, r.db, rk.GetName())
		if !slices.Equal(tail[len(tail)-2:], []string{"risk.updated", "risk.review_due"}) {
			t.Errorf("events = %v; want risk.updated (next_review_date), then risk.review_due", tail)
		}
	})
}

// TestConcurrentAssessmentsAndMatrixChanges: assessments of one risk and changes of the matrix
// made at the same time are each applied once, in some order: the history numbers every change
// once, the versions follow one another.
func TestConcurrentAssessmentsAndMatrixChanges(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		r := mustRisk(t, e, "busy", riskv1.Risk_OPERATIONAL)
		const n = 8
		testkit.Concurrently(t, n, func(i int) error {
			_, err := e.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(),
				Inherent: score(5, 5), Residual: score(int32(i%5)+1, 1), Reason: fmt.Sprint("assessor ", i)})
			return err
		})
		h, err := e.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		// Each assessment changed the residual score but those that repeat the one before.
		changes := h.GetRiskScoreChanges()
		for k, c := range changes {
			if want := fmt.Sprintf("%s/scoreChanges/%08d", r.GetName(), k+1); c.GetName() != want {
				t.Errorf("change %d = %s; want %s", k, c.GetName(), want)
			}
			if k > 0 && !proto.Equal(c.GetFromResidual(), changes[k-1].GetToResidual()) {
				t.Errorf("change %d starts from %v; the one before ended at %v", k, c.GetFromResidual(), changes[k-1].GetToResidual())
			}
		}
		if assessed := len(events(t, e.db, r.GetName())); assessed < n+len(changes) {
			t.Errorf("%d events for %d assessments and %d changes", assessed, n, len(changes))
		}

		testkit.Concurrently(t, 4, func(i int) error {
			_, err := e.client.UpdateRiskMatrix(ctx, &riskv1.UpdateRiskMatrixRequest{RiskMatrix: &riskv1.RiskMatrix{Name: "riskMatrix",
				Description: fmt.Sprint("change ", i)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
			return err
		})
		list, err := e.client.ListRiskMatrixVersions(ctx, &riskv1.ListRiskMatrixVersionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []int32
		for _, m := range list.GetRiskMatrices() {
			got = append(got, m.GetVersion())
		}
		if !slices.Equal(got, []int32{5, 4, 3, 2, 1}) {
			t.Errorf("versions = %v; want 5 to 1", got)
		}
	})
}
