package risk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// newPlan creates plan id for service with an RTO of rto, an RPO of 15 minutes and a cadence of
// every so many days, answering risk when given.
func (o *office) newPlan(t *testing.T, id, service string, rto time.Duration, days int32, risk string) *riskv1.ContinuityPlan {
	t.Helper()
	p, err := o.comp.CreateContinuityPlan(context.Background(), &riskv1.CreateContinuityPlanRequest{ContinuityPlanId: id,
		ContinuityPlan: &riskv1.ContinuityPlan{Title: "Recovery of " + service, Service: service, Owner: "users/sre",
			RecoveryTimeObjective: durationpb.New(rto), RecoveryPointObjective: durationpb.New(15 * time.Minute),
			ExerciseCadence: &riskv1.ExerciseCadence{Days: days}, Risk: risk}})
	if err != nil {
		t.Fatalf("create plan %s: %v", id, err)
	}
	return p
}

// TestContinuityPlans creates, lists, updates and deletes continuity plans: one per service, the
// risk checked, the first exercise due the cadence after creation (the overdue item the day
// after), the events of each change, and bad input refused on its fields.
func TestContinuityPlans(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		o.newRisk(t, "outage", true)
		p, err := o.comp.CreateContinuityPlan(ctx, &riskv1.CreateContinuityPlanRequest{ContinuityPlanId: "checkout",
			ContinuityPlan: &riskv1.ContinuityPlan{Title: " Checkout recovery ", Service: " checkout ", Owner: "users/sre",
				RecoveryTimeObjective: durationpb.New(time.Hour), RecoveryPointObjective: durationpb.New(0),
				VendorDependencies: []string{"vendors/payco"}, ServiceDependencies: []string{"payments", "identity"},
				Risk: "risks/outage", ExerciseCadence: &riskv1.ExerciseCadence{Months: 6}}})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetName() != "continuityPlans/checkout" || p.GetTitle() != "Checkout recovery" || p.GetService() != "checkout" ||
			p.GetRecoveryTimeObjective().AsDuration() != time.Hour || p.GetRecoveryPointObjective() == nil ||
			p.GetNextExerciseDate().GetYear() != 2027 || p.GetNextExerciseDate().GetMonth() != 6 || p.GetNextExerciseDate().GetDay() != 4 ||
			p.GetLastExerciseDate() != nil || p.GetLastExercise() != "" || p.GetExerciseOverdue() || p.GetEtag() == "" {
			t.Errorf("created plan = %v", p)
		}
		if got := dueItems(t, o.db, p.GetName())["continuity_exercise_overdue"]; !got.Equal(midnight(2027, 6, 5)) {
			t.Errorf("overdue item at %v; want the start of 2027-06-05", got)
		}
		if n := countEvents(t, o.db, ".continuity.plan_created", p.GetName()); n != 1 {
			t.Errorf("continuity.plan_created events = %d", n)
		}

		// One plan per service.
		_, err = o.comp.CreateContinuityPlan(ctx, &riskv1.CreateContinuityPlanRequest{ContinuityPlan: &riskv1.ContinuityPlan{
			Title: "Another", Service: "checkout", Owner: "users/sre", RecoveryTimeObjective: durationpb.New(time.Hour),
			RecoveryPointObjective: durationpb.New(time.Hour), ExerciseCadence: &riskv1.ExerciseCadence{Days: 30}}})
		testkit.AssertStatus(t, err, codes.AlreadyExists, "SERVICE_ALREADY_COVERED")
		erp := o.newPlan(t, "erp", "erp", 4*time.Hour, 90, "")

		// Bad input names its fields.
		valid := func() *riskv1.ContinuityPlan {
			return &riskv1.ContinuityPlan{Title: "x", Service: "billing", Owner: "users/sre", RecoveryTimeObjective: durationpb.New(time.Hour),
				RecoveryPointObjective: durationpb.New(time.Minute), ExerciseCadence: &riskv1.ExerciseCadence{Months: 12}}
		}
		for _, tc := range []struct {
			name   string
			change func(p *riskv1.ContinuityPlan)
			fields []string
		}{
			{"nothing required", func(p *riskv1.ContinuityPlan) { *p = riskv1.ContinuityPlan{} }, []string{"continuity_plan.title:REQUIRED",
				"continuity_plan.service:REQUIRED", "continuity_plan.owner:REQUIRED", "continuity_plan.recovery_time_objective:REQUIRED",
				"continuity_plan.recovery_point_objective:REQUIRED", "continuity_plan.exercise_cadence:REQUIRED"}},
			{"zero RTO", func(p *riskv1.ContinuityPlan) { p.RecoveryTimeObjective = durationpb.New(0) }, []string{"continuity_plan.recovery_time_objective:OUT_OF_RANGE"}},
			{"negative RPO", func(p *riskv1.ContinuityPlan) { p.RecoveryPointObjective = durationpb.New(-time.Minute) }, []string{"continuity_plan.recovery_point_objective:OUT_OF_RANGE"}},
			{"months and days", func(p *riskv1.ContinuityPlan) { p.ExerciseCadence = &riskv1.ExerciseCadence{Months: 1, Days: 1} }, []string{"continuity_plan.exercise_cadence:CADENCE_AMBIGUOUS"}},
			{"depends on itself", func(p *riskv1.ContinuityPlan) { p.ServiceDependencies = []string{"erp", "billing"} }, []string{"continuity_plan.service_dependencies[1]:SELF_DEPENDENCY"}},
			{"unknown risk", func(p *riskv1.ContinuityPlan) { p.Risk = "risks/nothere" }, []string{"continuity_plan.risk:RISK_NOT_FOUND"}},
			{"not a vendor", func(p *riskv1.ContinuityPlan) { p.VendorDependencies = []string{"payco"} }, []string{"continuity_plan.vendor_dependencies[0]"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := valid()
				tc.change(in)
				_, err := o.comp.CreateContinuityPlan(ctx, &riskv1.CreateContinuityPlanRequest{ContinuityPlan: in})
				testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.fields...)
			})
		}

		// Lists filter by service and order by the next exercise.
		bySvc, err := o.comp.ListContinuityPlans(ctx, &riskv1.ListContinuityPlansRequest{Filter: `service = "erp"`})
		if err != nil || len(bySvc.GetContinuityPlans()) != 1 || bySvc.GetContinuityPlans()[0].GetName() != erp.GetName() {
			t.Errorf("plans of erp = %v, %v", bySvc, err)
		}
		ordered, err := o.comp.ListContinuityPlans(ctx, &riskv1.ListContinuityPlansRequest{OrderBy: "next_exercise_date", PageSize: 1})
		if err != nil || len(ordered.GetContinuityPlans()) != 1 || ordered.GetContinuityPlans()[0].GetName() != erp.GetName() || ordered.GetNextPageToken() == "" {
			t.Errorf("first plan by next exercise = %v, %v", ordered, err)
		}

		// An update by mask with the etag: a new cadence moves the next exercise and its item.
		up, err := o.comp.UpdateContinuityPlan(ctx, &riskv1.UpdateContinuityPlanRequest{ContinuityPlan: &riskv1.ContinuityPlan{Name: p.GetName(),
			Title: "Checkout failover", ExerciseCadence: &riskv1.ExerciseCadence{Days: 30}, Etag: p.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "exercise_cadence"}}})
		if err != nil || up.GetTitle() != "Checkout failover" || up.GetNextExerciseDate().GetMonth() != 1 || up.GetNextExerciseDate().GetDay() != 3 ||
			up.GetRecoveryTimeObjective().AsDuration() != time.Hour || up.GetRisk() != "risks/outage" {
			t.Fatalf("updated = %v, %v", up, err)
		}
		if got := dueItems(t, o.db, p.GetName())["continuity_exercise_overdue"]; !got.Equal(midnight(2027, 1, 4)) {
			t.Errorf("overdue item at %v after the update; want the start of 2027-01-04", got)
		}
		ev := outbox(t, o.db, ".continuity.plan_updated", p.GetName(), func() *riskv1.ContinuityPlanUpdated { return &riskv1.ContinuityPlanUpdated{} })
		if len(ev) != 1 || strings.Join(ev[0].GetChangedFields().GetPaths(), ",") != "title,exercise_cadence" || ev[0].GetVersion() != 2 {
			t.Errorf("continuity.plan_updated = %v", ev)
		}
		_, err = o.comp.UpdateContinuityPlan(ctx, &riskv1.UpdateContinuityPlanRequest{ContinuityPlan: &riskv1.ContinuityPlan{Name: p.GetName(), Title: "x", Etag: p.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		if status.Code(err) != codes.Aborted {
			t.Errorf("update with a stale etag = %v", err)
		}
		_, err = o.comp.UpdateContinuityPlan(ctx, &riskv1.UpdateContinuityPlanRequest{ContinuityPlan: &riskv1.ContinuityPlan{Name: erp.GetName(), Service: "checkout"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"service"}}})
		testkit.AssertStatus(t, err, codes.AlreadyExists, "SERVICE_ALREADY_COVERED")
		_, err = o.comp.UpdateContinuityPlan(ctx, &riskv1.UpdateContinuityPlanRequest{ContinuityPlan: &riskv1.ContinuityPlan{Name: erp.GetName()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"recovery_time_objective"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "continuity_plan.recovery_time_objective:REQUIRED")

		// A deleted plan is gone with its overdue item, and its service is free again.
		if _, err := o.comp.DeleteContinuityPlan(ctx, &riskv1.DeleteContinuityPlanRequest{Name: p.GetName(), Etag: up.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = o.comp.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: p.GetName()})
		testkit.AssertStatus(t, err, codes.NotFound, "CONTINUITY_PLAN_NOT_FOUND")
		if items := dueItems(t, o.db, p.GetName()); len(items) != 0 {
			t.Errorf("due items of the deleted plan = %v", items)
		}
		deleted := outbox(t, o.db, ".continuity.plan_deleted", p.GetName(), func() *riskv1.ContinuityPlanDeleted { return &riskv1.ContinuityPlanDeleted{} })
		if len(deleted) != 1 || deleted[0].GetPlan().GetService() != "checkout" || deleted[0].GetVersion() != 3 {
			t.Errorf("continuity.plan_deleted = %v", deleted)
		}
		o.newPlan(t, "checkout-2", "checkout", time.Hour, 30, "")

		reader := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/reader", "compliance.read"))
		if _, err := reader.CreateContinuityPlan(ctx, &riskv1.CreateContinuityPlanRequest{ContinuityPlan: valid()}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("create with compliance.read = %v", err)
		}
		if _, err := reader.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: erp.GetName()}); err != nil {
			t.Errorf("get with compliance.read: %v", err)
		}
	})
}

// TestContinuityExercises records exercises: a FAILOVER that misses its RTO (exercise_recorded,
// then target_missed, its finding an OPEN action of the plan's risk), a TABLETOP that measures
// nothing, an older exercise that does not become the latest, and the refusals of bad input.
func TestContinuityExercises(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		o.newRisk(t, "outage", true)
		p := o.newPlan(t, "checkout", "checkout", time.Hour, 90, "risks/outage")
		bare := o.newPlan(t, "erp", "erp", time.Hour, 90, "")

		o.clock.Set(time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC))
		e, err := o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: p.GetName(), ContinuityExerciseId: "failover-1",
			ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_FAILOVER, ExerciseDate: day(2026, 12, 10),
				AchievedRecoveryTime: durationpb.New(2 * time.Hour), AchievedRecoveryPoint: durationpb.New(5 * time.Minute),
				Findings: []*riskv1.Finding{{Title: "Automate the DNS switch", Owner: "users/netops", DueDate: day(2027, 1, 31)}}}})
		if err != nil {
			t.Fatal(err)
		}
		if e.GetName() != "continuityPlans/checkout/exercises/failover-1" || e.GetRecoveryTimeResult() != riskv1.TargetResult_MISSED ||
			e.GetRecoveryPointResult() != riskv1.TargetResult_MET || e.GetRecoveryTimeObjective().AsDuration() != time.Hour ||
			e.GetRecorder() == "" || len(e.GetFindings()) != 1 || !strings.HasPrefix(e.GetFindings()[0].GetAction(), "risks/outage/actions/") {
			t.Fatalf("exercise = %v", e)
		}
		a, err := o.client.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: e.GetFindings()[0].GetAction()})
		if err != nil || a.GetTitle() != "Automate the DNS switch" || a.GetOwner() != "users/netops" || a.GetState() != riskv1.MitigationAction_OPEN ||
			a.GetDueDate().GetMonth() != 1 || !strings.Contains(a.GetDescription(), e.GetName()) {
			t.Errorf("the finding's action = %v, %v", a, err)
		}
		if n := countEvents(t, o.db, ".action.created", a.GetName()); n != 1 {
			t.Errorf("action.created of the finding = %d", n)
		}
		got, _ := o.comp.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: p.GetName()})
		if got.GetLastExercise() != e.GetName() || got.GetLastExerciseDate().GetDay() != 10 || got.GetNextExerciseDate().GetMonth() != 3 ||
			got.GetNextExerciseDate().GetDay() != 10 {
			t.Errorf("plan after the exercise = %v", got)
		}
		if due := dueItems(t, o.db, p.GetName())["continuity_exercise_overdue"]; !due.Equal(midnight(2027, 3, 11)) {
			t.Errorf("overdue item at %v; want the start of 2027-03-11", due)
		}
		rec := outbox(t, o.db, ".continuity.exercise_recorded", p.GetName(), func() *riskv1.ContinuityExerciseRecorded { return &riskv1.ContinuityExerciseRecorded{} })
		if len(rec) != 1 || rec[0].GetService() != "checkout" || rec[0].GetKind() != riskv1.ExerciseKind_FAILOVER ||
			rec[0].GetAchievedRecoveryTime().AsDuration() != 2*time.Hour || rec[0].GetRecoveryTimeObjective().AsDuration() != time.Hour ||
			rec[0].GetRecoveryTimeMet() || !rec[0].GetRecoveryPointMet() || rec[0].GetExerciseDate().GetDay() != 10 || rec[0].GetVersion() != 2 {
			t.Errorf("continuity.exercise_recorded = %v", rec)
		}
		missed := outbox(t, o.db, ".continuity.target_missed", p.GetName(), func() *riskv1.ContinuityTargetMissed { return &riskv1.ContinuityTargetMissed{} })
		if len(missed) != 1 || !missed[0].GetRecoveryTimeMissed() || missed[0].GetRecoveryPointMissed() || missed[0].GetExercise().GetName() != e.GetName() ||
			missed[0].GetVersion() != 3 {
			t.Errorf("continuity.target_missed = %v", missed)
		}

		// A tabletop measures nothing and misses nothing; an older one is kept but not the latest.
		tt, err := o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: p.GetName(),
			ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 5), Notes: "walked the runbook"}})
		if err != nil || tt.GetRecoveryTimeResult() != riskv1.TargetResult_NOT_MEASURED || tt.GetRecoveryPointResult() != riskv1.TargetResult_NOT_MEASURED {
			t.Fatalf("tabletop = %v, %v", tt, err)
		}
		if got, _ := o.comp.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: p.GetName()}); got.GetLastExercise() != e.GetName() {
			t.Errorf("latest exercise after an older one = %v", got.GetLastExercise())
		}
		if n := countEvents(t, o.db, ".continuity.target_missed", p.GetName()); n != 1 {
			t.Errorf("continuity.target_missed after the tabletop = %d", n)
		}
		list, err := o.comp.ListContinuityExercises(ctx, &riskv1.ListContinuityExercisesRequest{Parent: p.GetName()})
		if err != nil || len(list.GetContinuityExercises()) != 2 || list.GetContinuityExercises()[0].GetName() != e.GetName() {
			t.Errorf("exercises = %v, %v", list, err)
		}
		missedOnly, err := o.comp.ListContinuityExercises(ctx, &riskv1.ListContinuityExercisesRequest{Parent: "continuityPlans/-", Filter: "recovery_time_result = MISSED"})
		if err != nil || len(missedOnly.GetContinuityExercises()) != 1 {
			t.Errorf("missed exercises = %v, %v", missedOnly, err)
		}
		if g, err := o.comp.GetContinuityExercise(ctx, &riskv1.GetContinuityExerciseRequest{Name: e.GetName()}); err != nil || g.GetFindings()[0].GetAction() != a.GetName() {
			t.Errorf("get exercise = %v, %v", g, err)
		}

		// Bad input names its fields.
		for _, tc := range []struct {
			name   string
			parent string
			in     *riskv1.ContinuityExercise
			fields []string
		}{
			{"failover without times", p.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_FAILOVER, ExerciseDate: day(2026, 12, 9)},
				[]string{"continuity_exercise.achieved_recovery_time:REQUIRED", "continuity_exercise.achieved_recovery_point:REQUIRED"}},
			{"in the future", p.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 11)},
				[]string{"continuity_exercise.exercise_date:DATE_IN_FUTURE"}},
			{"no date", p.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP}, []string{"continuity_exercise.exercise_date:REQUIRED"}},
			{"finding without title", p.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 9),
				Findings: []*riskv1.Finding{{Title: " "}}}, []string{"continuity_exercise.findings[0].title:REQUIRED"}},
			{"finding due in the past", p.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 9),
				Findings: []*riskv1.Finding{{Title: "x", DueDate: day(2026, 12, 1)}}}, []string{"continuity_exercise.findings[0].due_date:DUE_DATE_IN_PAST"}},
			{"findings without a risk", bare.GetName(), &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 9),
				Findings: []*riskv1.Finding{{Title: "x"}}}, []string{"continuity_exercise.findings:PLAN_HAS_NO_RISK"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: tc.parent, ContinuityExercise: tc.in})
				testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", tc.fields...)
			})
		}
		if n := countEvents(t, o.db, ".continuity.exercise_recorded", bare.GetName()); n != 0 {
			t.Errorf("a refused exercise was recorded: %d events", n)
		}
		_, err = o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: "continuityPlans/nothere",
			ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 9)}})
		testkit.AssertStatus(t, err, codes.NotFound, "CONTINUITY_PLAN_NOT_FOUND")
	})
}

// TestContinuityExerciseOverdue moves the clock past plans' next exercise dates: a plan not
// exercised publishes continuity.exercise_overdue once at the start of the day after its date, a
// plan exercised in time does not, nor does a deleted one; the overdue plan lists as overdue.
func TestContinuityExerciseOverdue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		late := o.newPlan(t, "checkout", "checkout", time.Hour, 10, "") // due 2026-12-14
		kept := o.newPlan(t, "erp", "erp", time.Hour, 10, "")
		gone := o.newPlan(t, "crm", "crm", time.Hour, 10, "")
		o.clock.Set(time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC))
		if _, err := o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: kept.GetName(),
			ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 10)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := o.comp.DeleteContinuityPlan(ctx, &riskv1.DeleteContinuityPlanRequest{Name: gone.GetName()}); err != nil {
			t.Fatal(err)
		}

		o.clock.Set(midnight(2026, 12, 15))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, o.db, ".continuity.exercise_overdue", late.GetName()) > 0 })
		ev := outbox(t, o.db, ".continuity.exercise_overdue", late.GetName(), func() *riskv1.ContinuityExerciseOverdue { return &riskv1.ContinuityExerciseOverdue{} })
		if len(ev) != 1 || !ev[0].GetDueTime().AsTime().Equal(midnight(2026, 12, 15)) || ev[0].GetNextExerciseDate().GetDay() != 14 ||
			ev[0].GetService() != "checkout" || !ev[0].GetPlan().GetExerciseOverdue() || ev[0].GetLastExerciseDate() != nil {
			t.Errorf("continuity.exercise_overdue = %v", ev)
		}
		for _, name := range []string{kept.GetName(), gone.GetName()} {
			if n := countEvents(t, o.db, ".continuity.exercise_overdue", name); n != 0 {
				t.Errorf("continuity.exercise_overdue of %s = %d", name, n)
			}
		}
		overdue, err := o.comp.ListContinuityPlans(ctx, &riskv1.ListContinuityPlansRequest{Filter: "exercise_overdue = true"})
		if err != nil || len(overdue.GetContinuityPlans()) != 1 || overdue.GetContinuityPlans()[0].GetName() != late.GetName() {
			t.Errorf("overdue plans = %v, %v", overdue, err)
		}

		// An exercise moves the date: the plan falls overdue again only after the new one.
		o.clock.Set(time.Date(2026, 12, 15, 9, 0, 0, 0, time.UTC))
		if _, err := o.comp.CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{Parent: late.GetName(),
			ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 15)}}); err != nil {
			t.Fatal(err)
		}
		if due := dueItems(t, o.db, late.GetName())["continuity_exercise_overdue"]; !due.Equal(midnight(2026, 12, 26)) {
			t.Errorf("overdue item after the exercise at %v; want the start of 2026-12-26", due)
		}
		if n := countEvents(t, o.db, ".continuity.exercise_overdue", late.GetName()); n != 1 {
			t.Errorf("continuity.exercise_overdue after the exercise = %d", n)
		}
	})
}

// TestOutageIsUnplannedExercise resolves incidents on services that plans cover: an OUTAGE is
// recorded as an UNPLANNED exercise of each covering plan, in the resolution's transaction, its
// recovery time from detection to resolution (missing the RTO: target_missed), once even when
// the resolution is retried; a degradation is not an exercise.
func TestOutageIsUnplannedExercise(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		comp := riskv1.NewComplianceServiceClient(d.Conn)
		ctx := context.Background()
		o := &office{register: d.register, comp: comp}
		checkout := o.newPlan(t, "checkout", "checkout", time.Hour, 90, "")
		erp := o.newPlan(t, "erp", "erp", 4*time.Hour, 90, "")

		inc, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "down", Incident: &riskv1.Incident{
			Title: "Checkout and ERP down", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV2,
			AffectedServices: []string{"checkout", "erp", "wiki"}, DetectTime: ts(at(10, 30))}})
		if err != nil {
			t.Fatal(err)
		}
		deg, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "slow", Incident: &riskv1.Incident{
			Title: "Checkout slow", Type: riskv1.Incident_DEGRADATION, Severity: riskv1.Incident_SEV3, AffectedServices: []string{"checkout"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{inc.GetName(), deg.GetName()} {
			if _, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: name}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		d.clock.Set(at(13, 30))
		resolve := &riskv1.ResolveIncidentRequest{Name: inc.GetName(), RequestId: "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}
		for range 2 { // a retry answers the first call and records nothing more
			if _, err := d.inc.ResolveIncident(ctx, resolve); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.inc.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: deg.GetName()}); err != nil {
			t.Fatal(err)
		}

		list, err := comp.ListContinuityExercises(ctx, &riskv1.ListContinuityExercisesRequest{Parent: checkout.GetName()})
		if err != nil || len(list.GetContinuityExercises()) != 1 {
			t.Fatalf("exercises of checkout = %v, %v", list, err)
		}
		e := list.GetContinuityExercises()[0]
		if e.GetKind() != riskv1.ExerciseKind_UNPLANNED || e.GetIncident() != inc.GetName() || e.GetAchievedRecoveryTime().AsDuration() != 3*time.Hour ||
			e.GetRecoveryTimeResult() != riskv1.TargetResult_MISSED || e.GetRecoveryPointResult() != riskv1.TargetResult_NOT_MEASURED ||
			e.GetExerciseDate().GetDay() != 4 || e.GetAchievedRecoveryPoint() != nil {
			t.Errorf("unplanned exercise = %v", e)
		}
		if n := countEvents(t, d.db, ".continuity.target_missed", checkout.GetName()); n != 1 {
			t.Errorf("continuity.target_missed of checkout = %d", n)
		}
		erpList, err := comp.ListContinuityExercises(ctx, &riskv1.ListContinuityExercisesRequest{Parent: erp.GetName()})
		if err != nil || len(erpList.GetContinuityExercises()) != 1 || erpList.GetContinuityExercises()[0].GetRecoveryTimeResult() != riskv1.TargetResult_MET {
			t.Errorf("exercises of erp = %v, %v", erpList, err)
		}
		if n := countEvents(t, d.db, ".continuity.target_missed", erp.GetName()); n != 0 {
			t.Errorf("continuity.target_missed of erp = %d", n)
		}
		rec := outbox(t, d.db, ".continuity.exercise_recorded", erp.GetName(), func() *riskv1.ContinuityExerciseRecorded { return &riskv1.ContinuityExerciseRecorded{} })
		if len(rec) != 1 || rec[0].GetKind() != riskv1.ExerciseKind_UNPLANNED || !rec[0].GetRecoveryTimeMet() || rec[0].GetRecoveryPointMet() {
			t.Errorf("continuity.exercise_recorded of erp = %v", rec)
		}
		if got, _ := comp.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: checkout.GetName()}); got.GetLastExercise() != e.GetName() {
			t.Errorf("checkout's latest exercise = %q", got.GetLastExercise())
		}
	})
}
