package risk_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// office is the register with its compliance API.
type office struct {
	*register
	comp riskv1.ComplianceServiceClient
}

func startOffice(t *testing.T, db testenv.Database) *office {
	t.Helper()
	r := startRegister(t, db, dec4)
	return &office{register: r, comp: riskv1.NewComplianceServiceClient(r.Conn)}
}

// importISO imports ISO/IEC 27001:2022 Annex A.
func (o *office) importISO(t *testing.T) *riskv1.Framework {
	t.Helper()
	f, err := o.comp.ImportFramework(context.Background(), &riskv1.ImportFrameworkRequest{FrameworkId: "iso27001-2022"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// newControl creates control id, tested QUARTERLY, satisfying requirements (ISO IDs such as
// "a-5-1") and mitigating risks.
func (o *office) newControl(t *testing.T, id string, requirements []string, risks ...string) *riskv1.Control {
	t.Helper()
	var reqs []string
	for _, r := range requirements {
		reqs = append(reqs, "frameworks/iso27001-2022/requirements/"+r)
	}
	c, err := o.comp.CreateControl(context.Background(), &riskv1.CreateControlRequest{ControlId: id, Control: &riskv1.Control{
		Title: "Control " + id, Owner: "users/secops", Type: riskv1.ControlType_PREVENTIVE,
		TestFrequency: riskv1.TestFrequency_QUARTERLY, Requirements: reqs, Risks: risks}})
	if err != nil {
		t.Fatalf("create control %s: %v", id, err)
	}
	return c
}

// test records a test of control c on date with result.
func (o *office) test(t *testing.T, c string, date []int32, result riskv1.ControlTestResult) *riskv1.ControlTest {
	t.Helper()
	ct, err := o.comp.CreateControlTest(context.Background(), &riskv1.CreateControlTestRequest{Parent: c, ControlTest: &riskv1.ControlTest{
		TestDate: day(date[0], date[1], date[2]), Result: result, EvidenceLinks: []string{"https://tickets.example.com/SEC-1"}}})
	if err != nil {
		t.Fatalf("test %s: %v", c, err)
	}
	return ct
}

// TestFrameworkImport imports ISO/IEC 27001:2022 from the catalogue: its requirements in order,
// once (a second import changes and publishes nothing), and the refusal of an ID the catalogue
// does not have.
func TestFrameworkImport(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		f := o.importISO(t)
		if f.GetName() != "frameworks/iso27001-2022" || f.GetRequirementCount() != 93 || f.GetTitle() == "" || f.GetEtag() == "" {
			t.Errorf("imported = %v", f)
		}
		again := o.importISO(t)
		if again.GetEtag() != f.GetEtag() || again.GetRequirementCount() != 93 {
			t.Errorf("imported again = %v; want unchanged", again)
		}
		if n := countEvents(t, o.db, ".framework.imported", f.GetName()); n != 1 {
			t.Errorf("framework.imported events = %d; want 1", n)
		}
		reqs, err := o.comp.ListRequirements(ctx, &riskv1.ListRequirementsRequest{Parent: f.GetName(), PageSize: 3})
		if err != nil || len(reqs.GetRequirements()) != 3 || reqs.GetNextPageToken() == "" {
			t.Fatalf("requirements = %v, %v", reqs, err)
		}
		if first := reqs.GetRequirements()[0]; first.GetName() != "frameworks/iso27001-2022/requirements/a-5-1" ||
			first.GetIdentifier() != "A.5.1" || first.GetPosition() != 1 {
			t.Errorf("first requirement = %v", first)
		}
		next, err := o.comp.ListRequirements(ctx, &riskv1.ListRequirementsRequest{Parent: f.GetName(), PageSize: 3, PageToken: reqs.GetNextPageToken()})
		if err != nil || next.GetRequirements()[0].GetIdentifier() != "A.5.4" {
			t.Errorf("second page = %v, %v", next, err)
		}
		found, err := o.comp.ListRequirements(ctx, &riskv1.ListRequirementsRequest{Parent: f.GetName(), Filter: `identifier = "A.8.24"`})
		if err != nil || len(found.GetRequirements()) != 1 || found.GetRequirements()[0].GetName() != "frameworks/iso27001-2022/requirements/a-8-24" {
			t.Errorf("filter by identifier = %v, %v", found, err)
		}
		if r, err := o.comp.GetRequirement(ctx, &riskv1.GetRequirementRequest{Name: "frameworks/iso27001-2022/requirements/a-8-13"}); err != nil || r.GetIdentifier() != "A.8.13" {
			t.Errorf("get A.8.13 = %v, %v", r, err)
		}
		for _, id := range []string{"soc2-2017", "nist-csf-2", "gdpr"} {
			if g, err := o.comp.ImportFramework(ctx, &riskv1.ImportFrameworkRequest{FrameworkId: id}); err != nil || g.GetRequirementCount() == 0 {
				t.Errorf("import %s = %v, %v", id, g, err)
			}
		}
		all, err := o.comp.ListFrameworks(ctx, &riskv1.ListFrameworksRequest{})
		if err != nil || len(all.GetFrameworks()) != 4 || all.GetFrameworks()[0].GetName() != "frameworks/gdpr" {
			t.Errorf("frameworks = %v, %v", all, err)
		}

		_, err = o.comp.ImportFramework(ctx, &riskv1.ImportFrameworkRequest{FrameworkId: "iso9001"})
		testkit.AssertStatus(t, err, codes.NotFound, "FRAMEWORK_NOT_IN_CATALOGUE")
		_, err = o.comp.ImportFramework(ctx, &riskv1.ImportFrameworkRequest{FrameworkId: "ISO 27001"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "framework_id")
		_, err = o.comp.GetFramework(ctx, &riskv1.GetFrameworkRequest{Name: "frameworks/iso9001"})
		testkit.AssertStatus(t, err, codes.NotFound, "FRAMEWORK_NOT_FOUND")
		_, err = o.comp.ListRequirements(ctx, &riskv1.ListRequirementsRequest{Parent: "frameworks/iso9001"})
		testkit.AssertStatus(t, err, codes.NotFound, "FRAMEWORK_NOT_FOUND")
		reader := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/reader", "compliance.read"))
		if _, err := reader.ImportFramework(ctx, &riskv1.ImportFrameworkRequest{FrameworkId: "iso27001-2022"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("import with compliance.read = %v", err)
		}
		if _, err := reader.GetFramework(ctx, &riskv1.GetFrameworkRequest{Name: f.GetName()}); err != nil {
			t.Errorf("get with compliance.read: %v", err)
		}
	})
}

// TestControls creates, updates and deletes a control: its requirements checked, its risks kept
// in the risks' own controls (each change a risk.updated), its first test due a quarter after
// creation, and the refusals of bad input.
func TestControls(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		o.importISO(t)
		vpn, crm := o.newRisk(t, "vpn", true), o.newRisk(t, "crm", false)
		c := o.newControl(t, "mfa", []string{"a-8-5", "a-5-17"}, vpn.GetName())
		if c.GetName() != "controls/mfa" || !slices.Equal(c.GetRisks(), []string{"risks/vpn"}) || c.GetLastResult() != riskv1.ControlTestResult_CONTROL_TEST_RESULT_UNSPECIFIED ||
			c.GetLastTestDate() != nil || c.GetNextTestDate().GetMonth() != 3 || c.GetNextTestDate().GetDay() != 4 || c.GetTestDue() {
			t.Errorf("created control = %v", c)
		}
		if got := dueItems(t, o.db, c.GetName())["control_test_due"]; !got.Equal(midnight(2027, 3, 4)) {
			t.Errorf("test-due item at %v; want the start of 2027-03-04", got)
		}
		if rk, _ := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: vpn.GetName()}); !slices.Equal(rk.GetControls(), []string{"controls/mfa"}) {
			t.Errorf("risk's controls = %v", rk.GetControls())
		}
		if n := countEvents(t, o.db, ".control.created", c.GetName()); n != 1 {
			t.Errorf("control.created events = %d", n)
		}

		// Linked from the risk's side, the control shows it too.
		if _, err := o.client.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: crm.GetName(), Controls: []string{"controls/mfa"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"controls"}}}); err != nil {
			t.Fatal(err)
		}
		got, err := o.comp.GetControl(ctx, &riskv1.GetControlRequest{Name: c.GetName()})
		if err != nil || !slices.Equal(got.GetRisks(), []string{"risks/crm", "risks/vpn"}) {
			t.Errorf("control's risks = %v, %v", got.GetRisks(), err)
		}

		// The update replaces the risks: vpn is unlinked, crm stays; the frequency moves the test.
		up, err := o.comp.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: c.GetName(), Risks: []string{"risks/crm"},
			TestFrequency: riskv1.TestFrequency_MONTHLY, Etag: got.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"risks", "test_frequency"}}})
		if err != nil || !slices.Equal(up.GetRisks(), []string{"risks/crm"}) || up.GetNextTestDate().GetMonth() != 1 {
			t.Fatalf("updated = %v, %v", up, err)
		}
		if rk, _ := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: vpn.GetName()}); len(rk.GetControls()) != 0 {
			t.Errorf("unlinked risk's controls = %v", rk.GetControls())
		}
		if got := dueItems(t, o.db, c.GetName())["control_test_due"]; !got.Equal(midnight(2027, 1, 4)) {
			t.Errorf("test-due item at %v after the update; want the start of 2027-01-04", got)
		}
		_, err = o.comp.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: c.GetName(), Title: "x", Etag: got.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		if status.Code(err) != codes.Aborted {
			t.Errorf("update with a stale etag = %v", err)
		}

		// Bad input names its fields.
		for _, tc := range []struct {
			name    string
			control *riskv1.Control
			reason  string
			field   string
		}{
			{"no type", &riskv1.Control{Title: "x", Owner: "o", TestFrequency: riskv1.TestFrequency_ANNUALLY}, "REQUIRED", "control.type"},
			{"no title", &riskv1.Control{Title: " ", Owner: "o", Type: riskv1.ControlType_DETECTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY}, "REQUIRED", "control.title"},
			{"unknown requirement", &riskv1.Control{Title: "x", Owner: "o", Type: riskv1.ControlType_DETECTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY,
				Requirements: []string{"frameworks/iso27001-2022/requirements/a-9-9"}}, "REQUIREMENT_NOT_FOUND", "control.requirements[0]"},
			{"unknown risk", &riskv1.Control{Title: "x", Owner: "o", Type: riskv1.ControlType_DETECTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY,
				Risks: []string{"risks/vpn", "risks/nothere"}}, "RISK_NOT_FOUND", "control.risks[1]"},
		} {
			_, err := o.comp.CreateControl(ctx, &riskv1.CreateControlRequest{Control: tc.control})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.field+":"+tc.reason)
		}
		if _, err := o.comp.CreateControl(ctx, &riskv1.CreateControlRequest{ControlId: "mfa", Control: &riskv1.Control{Title: "x", Owner: "o",
			Type: riskv1.ControlType_DETECTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY}}); err == nil {
			t.Error("a second control mfa was created")
		} else {
			testkit.AssertStatus(t, err, codes.AlreadyExists, "CONTROL_ALREADY_EXISTS")
		}
		reader := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/reader", "compliance.read"))
		if _, err := reader.CreateControl(ctx, &riskv1.CreateControlRequest{Control: &riskv1.Control{Title: "x", Owner: "o",
			Type: riskv1.ControlType_DETECTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY}}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("create with compliance.read = %v", err)
		}

		due, err := o.comp.ListControls(ctx, &riskv1.ListControlsRequest{Filter: `type = PREVENTIVE AND next_test_date < "2027-02-01"`})
		if err != nil || len(due.GetControls()) != 1 {
			t.Errorf("controls by filter = %v, %v", due, err)
		}

		// Deleting the control unlinks its risks and cancels its test.
		if _, err := o.comp.DeleteControl(ctx, &riskv1.DeleteControlRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		if rk, _ := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: crm.GetName()}); len(rk.GetControls()) != 0 {
			t.Errorf("deleted control still in the risk's controls: %v", rk.GetControls())
		}
		if items := dueItems(t, o.db, c.GetName()); len(items) != 0 {
			t.Errorf("deleted control keeps due items %v", items)
		}
		_, err = o.comp.GetControl(ctx, &riskv1.GetControlRequest{Name: c.GetName()})
		testkit.AssertStatus(t, err, codes.NotFound, "CONTROL_NOT_FOUND")
	})
}

// TestPostureAndFailedControl takes an ISO 27001 posture from gaps to covered through tests,
// with its trend over two days, and a failed control raising the residual likelihood of the risk
// it mitigates, the test as the cause.
func TestPostureAndFailedControl(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		f := o.importISO(t)
		vpn := o.newRisk(t, "vpn", true) // residual 3 × 3
		mfa := o.newControl(t, "mfa", []string{"a-5-17", "a-8-5"}, vpn.GetName())
		logs := o.newControl(t, "logs", []string{"a-8-5", "a-8-15"})
		posture := func() *riskv1.CompliancePosture {
			t.Helper()
			p, err := o.comp.GetCompliancePosture(ctx, &riskv1.GetCompliancePostureRequest{Name: f.GetName() + "/posture"})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := posture(); p.GetRequirementCount() != 93 || p.GetCoveredCount() != 0 || p.GetNotCoveredCount() != 93 || len(p.GetGaps()) != 93 {
			t.Errorf("posture before any test = %d/%d/%d, %d gaps", p.GetCoveredCount(), p.GetPartialCount(), p.GetNotCoveredCount(), len(p.GetGaps()))
		}

		o.test(t, mfa.GetName(), []int32{2026, 12, 3}, riskv1.ControlTestResult_EFFECTIVE)
		o.test(t, logs.GetName(), []int32{2026, 12, 4}, riskv1.ControlTestResult_PARTIALLY_EFFECTIVE)
		p := posture()
		if p.GetCoveredCount() != 2 || p.GetPartialCount() != 1 || p.GetNotCoveredCount() != 90 || p.GetCoveredPercent() != 2 || len(p.GetGaps()) != 91 {
			t.Errorf("posture = %d/%d/%d (%d%%), %d gaps", p.GetCoveredCount(), p.GetPartialCount(), p.GetNotCoveredCount(), p.GetCoveredPercent(), len(p.GetGaps()))
		}
		var logGap *riskv1.RequirementGap
		for _, g := range p.GetGaps() {
			if g.GetIdentifier() == "A.8.15" {
				logGap = g
			}
			if g.GetIdentifier() == "A.8.5" || g.GetIdentifier() == "A.5.17" {
				t.Errorf("covered requirement %s among the gaps", g.GetIdentifier())
			}
		}
		if logGap == nil || logGap.GetCoverage() != riskv1.Coverage_PARTIAL || !slices.Equal(logGap.GetControls(), []string{"controls/logs"}) {
			t.Errorf("gap A.8.15 = %v", logGap)
		}

		// A backdated test older than the latest is kept but changes nothing.
		o.test(t, mfa.GetName(), []int32{2026, 11, 1}, riskv1.ControlTestResult_INEFFECTIVE)
		if c, _ := o.comp.GetControl(ctx, &riskv1.GetControlRequest{Name: mfa.GetName()}); c.GetLastResult() != riskv1.ControlTestResult_EFFECTIVE ||
			c.GetLastTestDate().GetDay() != 3 || c.GetNextTestDate().GetMonth() != 3 || c.GetNextTestDate().GetDay() != 3 {
			t.Errorf("control after an older test = %v", c)
		}
		if rk, _ := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: vpn.GetName()}); rk.GetResidual().GetLikelihood() != 3 {
			t.Errorf("an older failed test raised the risk: %v", rk.GetResidual())
		}

		// The next day the control fails: A.5.17 is a gap again, A.8.5 partial (logs), and the
		// risk's likelihood rises one step with the test as the cause.
		o.clock.Set(dec4.Add(24 * time.Hour))
		failed := o.test(t, mfa.GetName(), []int32{2026, 12, 5}, riskv1.ControlTestResult_INEFFECTIVE)
		if !slices.Equal(failed.GetRaisedRisks(), []string{"risks/vpn"}) {
			t.Errorf("failed test raised %v", failed.GetRaisedRisks())
		}
		rk, err := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: vpn.GetName()})
		if err != nil || rk.GetResidual().GetLikelihood() != 4 || rk.GetResidual().GetImpact() != 3 {
			t.Errorf("risk after the failed control = %v, %v", rk.GetResidual(), err)
		}
		h, err := o.client.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: vpn.GetName()})
		if err != nil || len(h.GetRiskScoreChanges()) != 2 {
			t.Fatalf("history = %v, %v", h, err)
		}
		if last := h.GetRiskScoreChanges()[1]; last.GetCause() != failed.GetName() || last.GetToResidual().GetLikelihood() != 4 || last.GetReason() == "" {
			t.Errorf("score change = %v", last)
		}
		ev := outbox(t, o.db, ".control.failed", mfa.GetName(), func() *riskv1.ControlFailed { return &riskv1.ControlFailed{} })
		if len(ev) != 1 || ev[0].GetTest().GetName() != failed.GetName() || !slices.Equal(ev[0].GetRaisedRisks(), []string{"risks/vpn"}) {
			t.Errorf("control.failed = %v", ev)
		}
		if tested := outbox(t, o.db, ".control.tested", mfa.GetName(), func() *riskv1.ControlTested { return &riskv1.ControlTested{} }); len(tested) != 3 ||
			tested[2].GetVersion() != ev[0].GetVersion()-1 {
			t.Errorf("control.tested = %v", tested)
		}
		p = posture()
		if p.GetCoveredCount() != 0 || p.GetPartialCount() != 2 || p.GetNotCoveredCount() != 91 {
			t.Errorf("posture after the failure = %d/%d/%d", p.GetCoveredCount(), p.GetPartialCount(), p.GetNotCoveredCount())
		}

		// Failing again raises nothing more.
		again := o.test(t, mfa.GetName(), []int32{2026, 12, 5}, riskv1.ControlTestResult_INEFFECTIVE)
		if len(again.GetRaisedRisks()) != 0 {
			t.Errorf("a second failure raised %v", again.GetRaisedRisks())
		}
		if rk, _ := o.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: vpn.GetName()}); rk.GetResidual().GetLikelihood() != 4 {
			t.Errorf("a second failure moved the risk to %v", rk.GetResidual())
		}
		if n := countEvents(t, o.db, ".control.failed", mfa.GetName()); n != 2 {
			t.Errorf("control.failed events = %d; want 2", n)
		}

		// The trend: one snapshot per day on which the posture changed.
		trend, err := o.comp.ListPostureSnapshots(ctx, &riskv1.ListPostureSnapshotsRequest{Parent: f.GetName()})
		if err != nil || len(trend.GetPostureSnapshots()) != 2 {
			t.Fatalf("trend = %v, %v", trend, err)
		}
		if d4, d5 := trend.GetPostureSnapshots()[0], trend.GetPostureSnapshots()[1]; d4.GetName() != f.GetName()+"/postureSnapshots/2026-12-04" ||
			d4.GetCoveredCount() != 2 || d4.GetPartialCount() != 1 || d5.GetSnapshotDate().GetDay() != 5 || d5.GetCoveredCount() != 0 || d5.GetPartialCount() != 2 {
			t.Errorf("trend = %v", trend.GetPostureSnapshots())
		}

		// Tests list newest first; bad tests name their fields.
		tests, err := o.comp.ListControlTests(ctx, &riskv1.ListControlTestsRequest{Parent: mfa.GetName()})
		if err != nil || len(tests.GetControlTests()) != 4 || tests.GetControlTests()[3].GetTestDate().GetMonth() != 11 {
			t.Errorf("tests = %v, %v", tests, err)
		}
		fails, err := o.comp.ListControlTests(ctx, &riskv1.ListControlTestsRequest{Parent: "controls/-", Filter: "result = INEFFECTIVE"})
		if err != nil || len(fails.GetControlTests()) != 3 {
			t.Errorf("ineffective tests = %v, %v", fails, err)
		}
		_, err = o.comp.CreateControlTest(ctx, &riskv1.CreateControlTestRequest{Parent: mfa.GetName(), ControlTest: &riskv1.ControlTest{
			TestDate: day(2026, 12, 6), Result: riskv1.ControlTestResult_EFFECTIVE}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "control_test.test_date")
		_, err = o.comp.CreateControlTest(ctx, &riskv1.CreateControlTestRequest{Parent: mfa.GetName(), ControlTest: &riskv1.ControlTest{
			TestDate: day(2026, 12, 1)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "control_test.result")
		_, err = o.comp.CreateControlTest(ctx, &riskv1.CreateControlTestRequest{Parent: mfa.GetName(), ControlTest: &riskv1.ControlTest{
			TestDate: day(2026, 12, 1), Result: riskv1.ControlTestResult_EFFECTIVE, EvidenceLinks: []string{"not a link"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "control_test.evidence_links[0]")
		_, err = o.comp.CreateControlTest(ctx, &riskv1.CreateControlTestRequest{Parent: "controls/nothere", ControlTest: &riskv1.ControlTest{
			TestDate: day(2026, 12, 1), Result: riskv1.ControlTestResult_EFFECTIVE}})
		testkit.AssertStatus(t, err, codes.NotFound, "CONTROL_NOT_FOUND")
	})
}

// TestControlTestDue publishes control.test_due once at the start of the next test's date, and
// not for a date a test moved.
func TestControlTestDue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		o.importISO(t)
		c := o.newControl(t, "backup", []string{"a-8-13"})
		moved := o.newControl(t, "restore", []string{"a-8-13"})
		o.clock.Set(midnight(2027, 3, 3))
		o.test(t, moved.GetName(), []int32{2027, 3, 3}, riskv1.ControlTestResult_EFFECTIVE) // due 2027-06-03 now

		o.clock.Set(midnight(2027, 3, 4))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, o.db, ".control.test_due", c.GetName()) > 0 })
		ev := outbox(t, o.db, ".control.test_due", c.GetName(), func() *riskv1.ControlTestDue { return &riskv1.ControlTestDue{} })
		if len(ev) != 1 || !ev[0].GetDueTime().AsTime().Equal(midnight(2027, 3, 4)) || !ev[0].GetControl().GetTestDue() {
			t.Errorf("control.test_due = %v", ev)
		}
		if n := countEvents(t, o.db, ".control.test_due", moved.GetName()); n != 0 {
			t.Errorf("control.test_due of the tested control = %d", n)
		}
		due, err := o.comp.ListControls(ctx, &riskv1.ListControlsRequest{Filter: "test_due = true"})
		if err != nil || len(due.GetControls()) != 1 || due.GetControls()[0].GetName() != c.GetName() {
			t.Errorf("controls due = %v, %v", due, err)
		}
	})
}

// TestPostureChangedEvents publishes framework.posture_changed in the transaction of each change
// that moves a framework's counts — the import, a test, a control's new requirement, a control's
// deletion — and never for one that leaves them as they were: a second import, an untested
// control, a test with the same result, a change of a control's title.
func TestPostureChangedEvents(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		f := o.importISO(t)
		const posture = "frameworks/iso27001-2022/posture"
		events := func() []*riskv1.FrameworkPostureChanged {
			t.Helper()
			return outbox(t, o.db, ".framework.posture_changed", posture, func() *riskv1.FrameworkPostureChanged { return &riskv1.FrameworkPostureChanged{} })
		}
		counts := func(p *riskv1.CompliancePosture) [4]int32 {
			return [4]int32{p.GetRequirementCount(), p.GetCoveredCount(), p.GetPartialCount(), p.GetNotCoveredCount()}
		}
		want := func(step string, n int, now [4]int32) {
			t.Helper()
			ev := events()
			if len(ev) != n {
				t.Fatalf("%s: %d posture_changed events; want %d", step, len(ev), n)
			}
			last := ev[n-1]
			if got := counts(last.GetPosture()); got != now || last.GetFramework() != f.GetName() || last.GetTitle() != f.GetTitle() ||
				last.GetPosture().GetName() != posture || last.GetPosture().GetComputeTime() == nil {
				t.Errorf("%s: event = %v; want counts %v", step, last, now)
			}
			if n > 1 {
				if counts(last.GetPreviousPosture()) != counts(ev[n-2].GetPosture()) || last.GetVersion() <= ev[n-2].GetVersion() {
					t.Errorf("%s: event %v does not follow %v", step, last, ev[n-2])
				}
			}
		}

		want("import", 1, [4]int32{93, 0, 0, 93})
		if first := events()[0]; first.GetPreviousPosture() != nil || first.GetPosture().GetCoveredPercent() != 0 {
			t.Errorf("first event = %v; want no previous posture", first)
		}
		o.importISO(t)
		want("second import", 1, [4]int32{93, 0, 0, 93})

		mfa := o.newControl(t, "mfa", []string{"a-5-17", "a-8-5"})
		want("untested control", 1, [4]int32{93, 0, 0, 93})

		o.test(t, mfa.GetName(), []int32{2026, 12, 3}, riskv1.ControlTestResult_EFFECTIVE)
		want("effective test", 2, [4]int32{93, 2, 0, 91})
		if p := events()[1].GetPosture(); p.GetCoveredPercent() != 2 {
			t.Errorf("covered percent = %d; want 2", p.GetCoveredPercent())
		}
		o.test(t, mfa.GetName(), []int32{2026, 12, 4}, riskv1.ControlTestResult_EFFECTIVE)
		want("same result again", 2, [4]int32{93, 2, 0, 91})

		c, err := o.comp.GetControl(ctx, &riskv1.GetControlRequest{Name: mfa.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		c, err = o.comp.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: c.GetName(), Title: "MFA everywhere", Etag: c.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		if err != nil {
			t.Fatal(err)
		}
		want("new title", 2, [4]int32{93, 2, 0, 91})

		c, err = o.comp.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: c.GetName(), Etag: c.GetEtag(),
			Requirements: []string{"frameworks/iso27001-2022/requirements/a-5-17", "frameworks/iso27001-2022/requirements/a-8-5",
				"frameworks/iso27001-2022/requirements/a-8-15"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"requirements"}}})
		if err != nil {
			t.Fatal(err)
		}
		want("one more requirement", 3, [4]int32{93, 3, 0, 90})

		if _, err := o.comp.DeleteControl(ctx, &riskv1.DeleteControlRequest{Name: c.GetName(), Etag: c.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		want("control deleted", 4, [4]int32{93, 0, 0, 93})

		// Each change of the posture raised the framework's version, and so its etag.
		got, err := o.comp.GetFramework(ctx, &riskv1.GetFrameworkRequest{Name: f.GetName()})
		if err != nil || got.GetEtag() == f.GetEtag() || got.GetUpdateTime().AsTime() != f.GetUpdateTime().AsTime() {
			t.Errorf("framework after its posture changed = %v, %v; want a new etag, the same update time", got, err)
		}
		if n := countEvents(t, o.db, ".framework.imported", f.GetName()); n != 1 {
			t.Errorf("framework.imported events = %d; want 1", n)
		}
	})
}
