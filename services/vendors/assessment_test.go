package vendors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// assessedVendor creates a vendor of the tier owned by owner, in the state: PROSPECT,
// ONBOARDING or OFFBOARDED.
func assessedVendor(t *testing.T, e *clockEnv, id string, tier int32, owner string, state vendorsv1.Vendor_State) {
	t.Helper()
	ctx := context.Background()
	v := acme("Vendor "+id, tier)
	v.Owner = owner
	mustVendor(t, e, id, v)
	var err error
	switch state {
	case vendorsv1.Vendor_ONBOARDING:
		_, err = e.client.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: "vendors/" + id})
	case vendorsv1.Vendor_OFFBOARDED:
		_, err = e.client.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: "vendors/" + id, Reason: "no longer needed"})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// securityTemplate has three questions, weights 1, 2 and 3, the last one critical.
func securityTemplate() *vendorsv1.AssessmentTemplate {
	return &vendorsv1.AssessmentTemplate{DisplayName: "Security due diligence", Questions: []*vendorsv1.Question{
		{Key: "policy", Text: "Is there an information security policy?", Category: "governance", Weight: 1},
		{Key: "backups", Text: "Are backups tested?", Category: "business continuity", Weight: 2},
		{Key: "mfa_enforced", Text: "Is MFA enforced for every administrative access?", Category: "access control", Weight: 3, Critical: true},
	}}
}

func answer(key string, rating int32) *vendorsv1.Answer {
	return &vendorsv1.Answer{QuestionKey: key, Rating: rating}
}

// streamEvents waits until e's stream holds n events of the type (e.g. "assessment.due") and
// returns them, oldest first.
func streamEvents[M proto.Message](t *testing.T, e *clockEnv, event string, n int, newMsg func() M) []M {
	t.Helper()
	ctx := context.Background()
	subject := e.Subject(event)
	var out []M
	testkit.Eventually(t, 30*time.Second, func() error {
		stream, err := e.JetStream.Stream(ctx, e.Stream())
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if got := info.State.Subjects[subject]; got != uint64(n) {
			return fmt.Errorf("%d %s events; want %d", got, event, n)
		}
		out = out[:0]
		for seq := uint64(1); seq <= info.State.LastSeq && len(out) < n; seq++ {
			m, err := stream.GetMsg(ctx, seq)
			if err != nil || m.Subject != subject {
				continue
			}
			ev := newMsg()
			if err := protojson.Unmarshal(m.Data, ev); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out
}

func TestAssessmentTemplates(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		tpl, err := e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplateId: "security", AssessmentTemplate: securityTemplate()})
		if err != nil {
			t.Fatal(err)
		}
		if tpl.GetName() != "assessmentTemplates/security" || tpl.GetRevision() != 1 || len(tpl.GetQuestions()) != 3 || tpl.GetEtag() == "" {
			t.Fatalf("created %v; want assessmentTemplates/security at revision 1 with 3 questions", tpl)
		}
		_, err = e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplateId: "security", AssessmentTemplate: securityTemplate()})
		e.AssertStatus(t, err, codes.AlreadyExists, "ASSESSMENT_TEMPLATE_EXISTS")

		// Validation: duplicate keys, a weight out of range, no questions.
		bad := securityTemplate()
		bad.Questions[1].Key = "policy"
		_, err = e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{AssessmentTemplate: bad})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "assessment_template.questions[1].key")
		bad = securityTemplate()
		bad.Questions[0].Weight = 0
		_, err = e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{AssessmentTemplate: bad})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "assessment_template.questions[0].weight")
		_, err = e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{DisplayName: "Empty"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "assessment_template.questions")

		// A server-assigned ID, and the list.
		other, err := e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{DisplayName: "Privacy", Questions: securityTemplate().Questions[:1]}})
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.client.ListAssessmentTemplates(ctx, &vendorsv1.ListAssessmentTemplatesRequest{Filter: `display_name = "Security due diligence"`})
		if err != nil || len(list.GetAssessmentTemplates()) != 1 || list.GetAssessmentTemplates()[0].GetName() != tpl.GetName() {
			t.Errorf("list by display name = %v, %v; want the security template only", list, err)
		}

		// Renaming keeps the revision; changing the questions makes a new one; a stale etag fails.
		upd, err := e.client.UpdateAssessmentTemplate(ctx, &vendorsv1.UpdateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{Name: tpl.GetName(), DisplayName: "Security DD", Etag: tpl.GetEtag()},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		if err != nil || upd.GetRevision() != 1 || upd.GetDisplayName() != "Security DD" {
			t.Fatalf("rename = %v, %v; want revision 1", upd, err)
		}
		qs := securityTemplate().Questions
		qs[0].Weight = 5
		_, err = e.client.UpdateAssessmentTemplate(ctx, &vendorsv1.UpdateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{Name: tpl.GetName(), Questions: qs, Etag: tpl.GetEtag()},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"questions"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		upd, err = e.client.UpdateAssessmentTemplate(ctx, &vendorsv1.UpdateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{Name: tpl.GetName(), Questions: qs},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"questions"}}})
		if err != nil || upd.GetRevision() != 2 || upd.GetQuestions()[0].GetWeight() != 5 {
			t.Fatalf("new questions = %v, %v; want revision 2", upd, err)
		}
		_, err = e.client.UpdateAssessmentTemplate(ctx, &vendorsv1.UpdateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{Name: tpl.GetName(), Revision: 7},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"revision"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")

		// Delete.
		if _, err := e.client.DeleteAssessmentTemplate(ctx, &vendorsv1.DeleteAssessmentTemplateRequest{Name: other.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetAssessmentTemplate(ctx, &vendorsv1.GetAssessmentTemplateRequest{Name: other.GetName()})
		e.AssertStatus(t, err, codes.NotFound, "ASSESSMENT_TEMPLATE_NOT_FOUND")
	})
}

// TestAssessmentLifecycle starts an assessment of a tier-1 vendor, answers it, completes it (the
// vendor's columns follow in the same transaction), and checks what the template's later change
// does not do, the incomplete and wrong-state errors, a cancellation and the events.
func TestAssessmentLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		assessedVendor(t, e, "acme", 1, "people/olivia", vendorsv1.Vendor_ONBOARDING)
		assessedVendor(t, e, "gone", 3, "", vendorsv1.Vendor_OFFBOARDED)
		tpl, err := e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplateId: "security", AssessmentTemplate: securityTemplate()})
		if err != nil {
			t.Fatal(err)
		}

		// Who may not assess, and whom one may not assess.
		_, err = e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/acme",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/olivia"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSOR_IS_OWNER")
		_, err = e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/gone",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_OFFBOARDED")
		_, err = e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/nobody",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam"}})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		_, err = e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/acme",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam", Answers: []*vendorsv1.Answer{answer("nope", 1)}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "assessment.answers[0].question_key")
		_, err = e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/acme",
			Assessment: &vendorsv1.Assessment{Template: "assessmentTemplates/missing", Assessor: "people/sam"}})
		e.AssertStatus(t, err, codes.NotFound, "ASSESSMENT_TEMPLATE_NOT_FOUND")

		const requestID = "0b8e9f4e-8a59-4a43-9d0c-3f8f4c3e4a11"
		create := &vendorsv1.CreateAssessmentRequest{Parent: "vendors/acme", AssessmentId: "a2026", RequestId: requestID,
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam", Answers: []*vendorsv1.Answer{answer("policy", 4)}}}
		a, err := e.client.CreateAssessment(ctx, create)
		if err != nil {
			t.Fatal(err)
		}
		if a.GetName() != "vendors/acme/assessments/a2026" || a.GetState() != vendorsv1.Assessment_IN_PROGRESS ||
			a.GetTemplateRevision() != 1 || len(a.GetQuestions()) != 3 {
			t.Fatalf("created %v; want IN_PROGRESS with a copy of revision 1's 3 questions", a)
		}
		if again, err := e.client.CreateAssessment(ctx, create); err != nil || again.GetEtag() != a.GetEtag() {
			t.Errorf("retry with the request ID = %v, %v; want the first result", again, err)
		}

		// The template changes; the started assessment keeps its copy.
		qs := securityTemplate().Questions
		qs[2].Weight = 10
		if _, err := e.client.UpdateAssessmentTemplate(ctx, &vendorsv1.UpdateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{Name: tpl.GetName(), Questions: qs[:2]},
			UpdateMask:         &fieldmaskpb.FieldMask{Paths: []string{"questions"}}}); err != nil {
			t.Fatal(err)
		}

		// Incomplete: two questions unanswered.
		_, err = e.client.CompleteAssessment(ctx, &vendorsv1.CompleteAssessmentRequest{Name: a.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_INCOMPLETE")
		if got := errorInfo(err).GetMetadata()["missing"]; got != "backups,mfa_enforced" {
			t.Errorf("missing = %q; want backups,mfa_enforced", got)
		}

		// Answer the rest: 1×4 + 2×3 + 3×1 = 13 of 24 points, 54.17 → 54, HIGH.
		a, err = e.client.UpdateAssessment(ctx, &vendorsv1.UpdateAssessmentRequest{
			Assessment: &vendorsv1.Assessment{Name: a.GetName(), Etag: a.GetEtag(), Answers: []*vendorsv1.Answer{
				answer("policy", 4), answer("backups", 3), {QuestionKey: "mfa_enforced", Rating: 1, EvidenceUris: []string{"https://acme.example/mfa.pdf"}}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"answers"}}})
		if err != nil || len(a.GetAnswers()) != 3 {
			t.Fatalf("answer = %v, %v", a, err)
		}
		_, err = e.client.UpdateAssessment(ctx, &vendorsv1.UpdateAssessmentRequest{
			Assessment: &vendorsv1.Assessment{Name: a.GetName(), Assessor: "people/olivia"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assessor"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSOR_IS_OWNER")

		const completeID = "6d1f0a57-3c39-4f0e-9b0e-2f7a9a1c5d22"
		completeReq := &vendorsv1.CompleteAssessmentRequest{Name: a.GetName(), Etag: a.GetEtag(), RequestId: completeID}
		done, err := e.client.CompleteAssessment(ctx, completeReq)
		if err != nil {
			t.Fatal(err)
		}
		// A retry of the same call answers the first result, not ASSESSMENT_NOT_IN_PROGRESS.
		if again, err := e.client.CompleteAssessment(ctx, completeReq); err != nil || again.GetEtag() != done.GetEtag() {
			t.Errorf("retry of the completion = %v, %v; want the first result", again, err)
		}
		if done.GetState() != vendorsv1.Assessment_COMPLETED || done.GetScore() != 54 || done.GetRiskRating() != vendorsv1.RiskRating_HIGH {
			t.Errorf("completed: state %v, score %d, rating %v; want COMPLETED, 54, HIGH", done.GetState(), done.GetScore(), done.GetRiskRating())
		}
		// Tier 1: 12 months from 4 December 2026.
		if v := done.GetValidUntil(); v.GetYear() != 2027 || v.GetMonth() != 12 || v.GetDay() != 4 {
			t.Errorf("valid_until = %v; want 2027-12-04", v)
		}
		if len(done.GetScoreBreakdown()) != 3 || done.GetScoreBreakdown()[2].GetPoints() != 3 || done.GetScoreBreakdown()[2].GetMaxPoints() != 12 {
			t.Errorf("breakdown = %v", done.GetScoreBreakdown())
		}
		// The vendor's latest assessment, in the same transaction: its risk rating now, and the
		// tier-1 vendor can be activated.
		v, err := e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/acme"})
		if err != nil || v.GetLatestAssessment() != done.GetName() || v.GetRiskRating() != vendorsv1.RiskRating_HIGH {
			t.Errorf("vendor after the completion = %v, %v; want latest assessment %s, rated HIGH", v, err, done.GetName())
		}
		if v, err := e.client.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: "vendors/acme"}); err != nil || v.GetState() != vendorsv1.Vendor_ACTIVE {
			t.Errorf("activate the assessed tier-1 vendor = %v, %v; want ACTIVE", v, err)
		}

		// Final: no more answers, no second completion, no cancellation.
		_, err = e.client.UpdateAssessment(ctx, &vendorsv1.UpdateAssessmentRequest{
			Assessment: &vendorsv1.Assessment{Name: a.GetName(), Assessor: "people/kim"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_NOT_IN_PROGRESS")
		_, err = e.client.CompleteAssessment(ctx, &vendorsv1.CompleteAssessmentRequest{Name: a.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_NOT_IN_PROGRESS")
		_, err = e.client.CancelAssessment(ctx, &vendorsv1.CancelAssessmentRequest{Name: a.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_NOT_IN_PROGRESS")

		// A second assessment, cancelled.
		b, err := e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/acme", AssessmentId: "b",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam"}})
		if err != nil {
			t.Fatal(err)
		}
		if b.GetTemplateRevision() != 2 || len(b.GetQuestions()) != 2 {
			t.Errorf("second assessment: revision %d, %d questions; want the template's revision 2", b.GetTemplateRevision(), len(b.GetQuestions()))
		}
		b, err = e.client.CancelAssessment(ctx, &vendorsv1.CancelAssessmentRequest{Name: b.GetName(), Reason: "started twice"})
		if err != nil || b.GetState() != vendorsv1.Assessment_CANCELLED || b.GetCancelReason() != "started twice" {
			t.Errorf("cancel = %v, %v", b, err)
		}

		// Lists: across vendors, by state and rating.
		all, err := e.client.ListAssessments(ctx, &vendorsv1.ListAssessmentsRequest{Parent: "vendors/-", Filter: "state = COMPLETED AND risk_rating >= HIGH"})
		if err != nil || len(all.GetAssessments()) != 1 || all.GetAssessments()[0].GetName() != a.GetName() {
			t.Errorf("completed HIGH or worse = %v, %v; want a2026", all, err)
		}
		all, err = e.client.ListAssessments(ctx, &vendorsv1.ListAssessmentsRequest{Parent: "vendors/acme", OrderBy: "score"})
		if err != nil || len(all.GetAssessments()) != 2 || all.GetAssessments()[0].GetName() != b.GetName() {
			t.Errorf("acme's assessments by score = %v, %v; want b (unscored) first", all, err)
		}
		all, err = e.client.ListAssessments(ctx, &vendorsv1.ListAssessmentsRequest{Parent: "vendors/-", Filter: `valid_until < "2028-01-01"`})
		if err != nil || len(all.GetAssessments()) != 1 {
			t.Errorf("valid until before 2028 = %v, %v; want a2026", all, err)
		}

		_, err = e.client.ListAssessments(ctx, &vendorsv1.ListAssessmentsRequest{Parent: "vendors/nobody"})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		_, err = e.client.ListAssessments(ctx, &vendorsv1.ListAssessmentsRequest{Parent: "vendors/-", Filter: "risk_rating >= SEVERE"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")

		// Audit: the creation, the answers and the completion, each once although two were retried.
		if got := testkit.Column[string](t, e.db, `SELECT request_id FROM audit_records WHERE resource = $1 ORDER BY pending_id`, a.GetName()); len(got) != 3 ||
			got[0] != requestID || got[2] != completeID {
			t.Errorf("audit records of %s by request ID = %q; want [%s, \"\", %s]", a.GetName(), got, requestID, completeID)
		}

		// Events: started twice, completed once, cancelled once.
		streamEvents(t, e, "assessment.started", 2, func() *vendorsv1.AssessmentStarted { return new(vendorsv1.AssessmentStarted) })
		completed := streamEvents(t, e, "assessment.completed", 1, func() *vendorsv1.AssessmentCompleted { return new(vendorsv1.AssessmentCompleted) })
		if c := completed[0]; c.GetVendor() != "vendors/acme" || c.GetVendorTier() != 1 || c.GetRiskRating() != vendorsv1.RiskRating_HIGH ||
			c.GetAssessment().GetScore() != 54 || c.GetVendorDisplayName() == "" || c.GetVendorDisplayName() != v.GetDisplayName() {
			t.Errorf("assessment.completed = %v", c)
		}
		streamEvents(t, e, "assessment.cancelled", 1, func() *vendorsv1.AssessmentCancelled { return new(vendorsv1.AssessmentCancelled) })
	})
}

// TestAssessmentDue completes an assessment of a tier-2 vendor (valid 24 months), then a newer
// one, which moves the reassessment; then only moves the clock: assessment.due fires once, at the
// start of the day after the newer one's valid_until, about the newer one.
func TestAssessmentDue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		fake := e.clock
		ctx := context.Background()
		assessedVendor(t, e, "globex", 2, "", vendorsv1.Vendor_PROSPECT)
		tpl, err := e.client.CreateAssessmentTemplate(ctx, &vendorsv1.CreateAssessmentTemplateRequest{
			AssessmentTemplate: &vendorsv1.AssessmentTemplate{DisplayName: "Short", Questions: securityTemplate().Questions[:1]}})
		if err != nil {
			t.Fatal(err)
		}
		complete := func(id string) *vendorsv1.Assessment {
			t.Helper()
			if _, err := e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/globex", AssessmentId: id,
				Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam", Answers: []*vendorsv1.Answer{answer("policy", 4)}}}); err != nil {
				t.Fatal(err)
			}
			a, err := e.client.CompleteAssessment(ctx, &vendorsv1.CompleteAssessmentRequest{Name: "vendors/globex/assessments/" + id})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		st := store.New(e.db, nil)
		first := complete("first")
		dec5of2028 := time.Date(2028, 12, 5, 0, 0, 0, 0, time.UTC)
		if item, err := st.AssessmentDue(ctx, "globex"); err != nil || !item.Due.Equal(dec5of2028) || item.Resource != first.GetName() {
			t.Fatalf("reassessment after the first completion = %+v, %v; want %s due %v", item, err, first.GetName(), dec5of2028)
		}

		// Three months later a newer assessment replaces it: due on 5 March 2029.
		fake.Set(time.Date(2027, 3, 4, 15, 0, 0, 0, time.UTC))
		second := complete("second")
		mar5of2029 := time.Date(2029, 3, 5, 0, 0, 0, 0, time.UTC)
		if item, err := st.AssessmentDue(ctx, "globex"); err != nil || !item.Due.Equal(mar5of2029) || item.Resource != second.GetName() {
			t.Fatalf("reassessment after the second completion = %+v, %v; want %s due %v", item, err, second.GetName(), mar5of2029)
		}

		// The first one's day passes without an event; the scheduler sleeps until the second's.
		fake.Set(dec5of2028.Add(36 * time.Hour))
		waitSchedulerAsleep(t, fake, mar5of2029)
		if n := outboxCount(t, e.db, ".assessment.due"); n != 0 {
			t.Fatalf("%d assessment.due events on the first one's day; want none", n)
		}
		// A second before the day: nothing. At the day's start: one event.
		fake.Set(mar5of2029.Add(-time.Second))
		waitSchedulerAsleep(t, fake, mar5of2029)
		if n := outboxCount(t, e.db, ".assessment.due"); n != 0 {
			t.Fatalf("%d assessment.due events before the day; want none", n)
		}
		fake.Set(mar5of2029)
		due := streamEvents(t, e, "assessment.due", 1, func() *vendorsv1.AssessmentDue { return new(vendorsv1.AssessmentDue) })[0]
		if due.GetAssessment().GetName() != second.GetName() || due.GetVendor() != "vendors/globex" || due.GetVendorTier() != 2 ||
			due.GetValidUntil().GetYear() != 2029 || due.GetValidUntil().GetMonth() != 3 || due.GetValidUntil().GetDay() != 4 ||
			!due.GetDueTime().AsTime().Equal(mar5of2029) || due.GetVersion() != 3 {
			t.Errorf("assessment.due = %v; want the second assessment (version 3), tier 2, valid until 2029-03-04, due %v", due, mar5of2029)
		}
		// Once: later days add nothing.
		fake.Set(mar5of2029.AddDate(1, 0, 0))
		if item, err := st.AssessmentDue(ctx, "globex"); err != nil || item.Fired.IsZero() {
			t.Errorf("reassessment item after firing = %+v, %v; want fired", item, err)
		}
		if n := outboxCount(t, e.db, ".assessment.due"); n != 1 {
			t.Errorf("%d assessment.due events a year later; want 1", n)
		}

		// Offboarding a vendor cancels its reassessment.
		assessedVendor(t, e, "initech", 3, "", vendorsv1.Vendor_PROSPECT)
		if _, err := e.client.CreateAssessment(ctx, &vendorsv1.CreateAssessmentRequest{Parent: "vendors/initech", AssessmentId: "x",
			Assessment: &vendorsv1.Assessment{Template: tpl.GetName(), Assessor: "people/sam", Answers: []*vendorsv1.Answer{answer("policy", 2)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.CompleteAssessment(ctx, &vendorsv1.CompleteAssessmentRequest{Name: "vendors/initech/assessments/x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AssessmentDue(ctx, "initech"); err != nil {
			t.Fatalf("reassessment of initech: %v", err)
		}
		if _, err := e.client.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: "vendors/initech", Reason: "replaced"}); err != nil {
			t.Fatal(err)
		}
		if item, err := st.AssessmentDue(ctx, "initech"); !errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("reassessment of the offboarded vendor = %+v, %v; want none", item, err)
		}
	})
}

// waitSchedulerAsleep waits until the service's scheduler has done what was due and sleeps until
// due.
func waitSchedulerAsleep(t *testing.T, c *clock.Fake, due time.Time) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(c.Waits(), due.Equal) {
			return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, c.Waits())
		}
		return nil
	})
}

// errorInfo is the ErrorInfo detail of err's status.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}
