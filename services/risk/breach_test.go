package risk_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// clockItems returns the due time of each unfired due item of resource, by key.
func clockItems(t *testing.T, db *sqldb.DB, resource string) map[string]time.Time {
	t.Helper()
	type item struct {
		key string
		due time.Time
	}
	out := map[string]time.Time{}
	for _, it := range testkit.Rows(t, db, func(rs *sql.Rows) (item, error) {
		var it item
		return it, rs.Scan(&it.key, &it.due)
	}, `SELECT item_key, due_at FROM scheduled_items WHERE resource_name = $1 AND fired_at IS NULL`, resource) {
		out[it.key] = it.due.UTC()
	}
	return out
}

// clockEvents returns the clock ids of the events of the incident whose subject ends with suffix,
// in order.
func clockEvents(t *testing.T, db *sqldb.DB, suffix, incident string) []string {
	t.Helper()
	var ids []string
	for _, ev := range outbox(t, db, suffix, incident, func() *riskv1.IncidentNotificationDueSoon { return &riskv1.IncidentNotificationDueSoon{} }) {
		ids = append(ids, ev.GetClock().GetId())
	}
	return ids
}

func hours(h int) *durationpb.Duration { return durationpb.New(time.Duration(h) * time.Hour) }

// TestBreachNotificationClocks runs a data breach's regulatory clocks on the scheduler's clock:
// GDPR's 72 hours and NIS2's 24-hour early warning from awareness, and a custom 96-hour one. Each
// clock warns once before its due time and falls overdue once after it unless its notification
// was recorded first; a notified clock stays as it was.
func TestBreachNotificationClocks(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		i, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "crm-leak", Incident: &riskv1.Incident{
			Title: "Customer records exposed", Type: riskv1.Incident_DATA_LOSS, Severity: riskv1.Incident_SEV1, DetectTime: ts(at(10, 0))}})
		if err != nil {
			t.Fatal(err)
		}
		name := i.GetName() + "/breachImpact"
		b, err := d.inc.GetBreachImpact(ctx, &riskv1.GetBreachImpactRequest{Name: name})
		if err != nil || !b.GetAwarenessTime().AsTime().Equal(at(12, 0)) || len(b.GetNotificationClocks()) != 0 || b.GetEtag() == "" {
			t.Fatalf("new breach impact = %v, %v", b, err)
		}
		d.declare(t, "lan", riskv1.Incident_SEV3)
		_, err = d.inc.GetBreachImpact(ctx, &riskv1.GetBreachImpactRequest{Name: "incidents/lan/breachImpact"})
		d.AssertStatus(t, err, codes.NotFound, "BREACH_IMPACT_NOT_FOUND")

		update := func(bi *riskv1.BreachImpact, paths ...string) (*riskv1.BreachImpact, error) {
			bi.Name = name
			return d.inc.UpdateBreachImpact(ctx, &riskv1.UpdateBreachImpactRequest{BreachImpact: bi, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		}
		for _, c := range []struct {
			name   string
			clocks []*riskv1.NotificationClock
			field  string
		}{
			{"custom without deadline", []*riskv1.NotificationClock{{Id: "sec", Regime: riskv1.NotificationClock_CUSTOM}},
				"breach_impact.notification_clocks[0].deadline:REQUIRED"},
			{"GDPR in 48 hours", []*riskv1.NotificationClock{{Id: "gdpr", Regime: riskv1.NotificationClock_GDPR, Deadline: hours(48)}},
				"breach_impact.notification_clocks[0].deadline:REGIME_DEADLINE"},
			{"twice", []*riskv1.NotificationClock{{Id: "gdpr", Regime: riskv1.NotificationClock_GDPR}, {Id: "gdpr", Regime: riskv1.NotificationClock_GDPR}},
				"breach_impact.notification_clocks[1].id:DUPLICATE"},
			{"warning too early", []*riskv1.NotificationClock{{Id: "gdpr", Regime: riskv1.NotificationClock_GDPR, WarnBefore: hours(72)}},
				"breach_impact.notification_clocks[0].warn_before:WARN_BEFORE_OUT_OF_RANGE"},
		} {
			_, err := update(&riskv1.BreachImpact{NotificationClocks: c.clocks}, "notification_clocks")
			testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.field)
		}
		_, err = update(&riskv1.BreachImpact{AwarenessTime: ts(at(9, 0))}, "awareness_time")
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "breach_impact.awareness_time:TIME_OUT_OF_ORDER")

		// Aware since 11:00: the clocks start then.
		b, err = update(&riskv1.BreachImpact{AffectedSubjects: 12_000, AffectedRecords: 40_000, Jurisdictions: []string{"DE", "FR"},
			DataCategories:                []riskv1.BreachImpact_DataCategory{riskv1.BreachImpact_CONTACT, riskv1.BreachImpact_FINANCIAL},
			RegulatorNotificationRequired: true, SubjectNotificationRequired: true, AwarenessTime: ts(at(11, 0)),
			NotificationClocks: []*riskv1.NotificationClock{
				{Id: "gdpr", Regime: riskv1.NotificationClock_GDPR, Recipient: "BfDI"},
				{Id: "nis2-early-warning", Regime: riskv1.NotificationClock_NIS2_EARLY_WARNING, Recipient: "BSI"},
				{Id: "insurer", Regime: riskv1.NotificationClock_CUSTOM, Recipient: "Cyber insurer", Deadline: hours(96), WarnBefore: hours(24)},
			}}, "*")
		if err != nil {
			t.Fatal(err)
		}
		day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, time.UTC) }
		for n, want := range []struct {
			id       string
			due      time.Time
			deadline time.Duration
		}{{"gdpr", day(7, 11), 72 * time.Hour}, {"nis2-early-warning", day(5, 11), 24 * time.Hour}, {"insurer", day(8, 11), 96 * time.Hour}} {
			c := b.GetNotificationClocks()[n]
			if c.GetId() != want.id || !c.GetDueTime().AsTime().Equal(want.due) || c.GetDeadline().AsDuration() != want.deadline ||
				!c.GetStartTime().AsTime().Equal(at(11, 0)) || c.GetState() != riskv1.NotificationClock_RUNNING {
				t.Errorf("clock %d = %v; want %s due %v", n, c, want.id, want.due)
			}
		}
		items := clockItems(t, d.db, name)
		if len(items) != 6 || !items[name+":gdpr:notification_due_soon"].Equal(day(6, 17)) ||
			!items[name+":nis2-early-warning:notification_overdue"].Equal(day(5, 11)) {
			t.Errorf("due items = %v", items)
		}
		if n := countEvents(t, d.db, ".incident.breach_impact_updated", i.GetName()); n != 1 {
			t.Errorf("incident.breach_impact_updated = %d", n)
		}

		// 05:00 the next day: NIS2's early warning is due in six hours.
		d.clock.Set(day(5, 5))
		testkit.Eventually(t, 10*time.Second, func() bool { return len(clockEvents(t, d.db, ".incident.notification_due_soon", i.GetName())) > 0 })
		soon := outbox(t, d.db, ".incident.notification_due_soon", i.GetName(), func() *riskv1.IncidentNotificationDueSoon { return &riskv1.IncidentNotificationDueSoon{} })
		if len(soon) != 1 || soon[0].GetClock().GetId() != "nis2-early-warning" || soon[0].GetClock().GetState() != riskv1.NotificationClock_DUE_SOON ||
			!soon[0].GetDueTime().AsTime().Equal(day(5, 5)) || soon[0].GetIncident().GetSeverity() != riskv1.Incident_SEV1 {
			t.Errorf("notification_due_soon = %v", soon)
		}
		// The early warning goes out at 09:00 and is recorded.
		d.clock.Set(day(5, 9))
		_, err = d.inc.RecordBreachNotification(ctx, &riskv1.RecordBreachNotificationRequest{Name: name, Clock: "nope"})
		d.AssertStatus(t, err, codes.NotFound, "NOTIFICATION_CLOCK_NOT_FOUND", "clock")
		b, err = d.inc.RecordBreachNotification(ctx, &riskv1.RecordBreachNotificationRequest{Name: name, Clock: "nis2-early-warning", Reference: "BSI-2026-0412"})
		if c := b.GetNotificationClocks()[1]; err != nil || c.GetState() != riskv1.NotificationClock_NOTIFIED || c.GetLate() ||
			!c.GetNotifyTime().AsTime().Equal(day(5, 9)) || c.GetNotificationReference() != "BSI-2026-0412" {
			t.Fatalf("record the early warning = %v, %v", b, err)
		}
		_, err = d.inc.RecordBreachNotification(ctx, &riskv1.RecordBreachNotificationRequest{Name: name, Clock: "nis2-early-warning"})
		d.AssertStatus(t, err, codes.FailedPrecondition, "CLOCK_NOTIFIED")
		if _, ok := clockItems(t, d.db, name)[name+":nis2-early-warning:notification_overdue"]; ok {
			t.Errorf("the notified clock keeps its overdue date")
		}
		// A notified clock stays: it cannot be removed, nor the awareness moved.
		_, err = update(&riskv1.BreachImpact{NotificationClocks: []*riskv1.NotificationClock{{Id: "gdpr", Regime: riskv1.NotificationClock_GDPR}}}, "notification_clocks")
		d.AssertStatus(t, err, codes.FailedPrecondition, "CLOCK_NOTIFIED")
		_, err = update(&riskv1.BreachImpact{AwarenessTime: ts(at(11, 30))}, "awareness_time")
		d.AssertStatus(t, err, codes.FailedPrecondition, "CLOCK_NOTIFIED", "breach_impact.awareness_time")
		var notes []string
		for _, e := range d.timeline(t, i.GetName()) {
			if e.GetKind() == riskv1.TimelineEntry_NOTIFICATION {
				notes = append(notes, e.GetNotificationClock()+" "+e.GetOccurTime().AsTime().Format(time.RFC3339))
			}
		}
		if len(notes) != 1 || notes[0] != "nis2-early-warning 2026-12-05T09:00:00Z" {
			t.Errorf("notification entries = %v", notes)
		}

		// Past the early warning's due time: nothing more about it. GDPR's warning comes at 17:00
		// on day 6; at 11:00 on day 7 GDPR is overdue and the insurer's clock due soon.
		d.clock.Set(day(6, 17))
		testkit.Eventually(t, 10*time.Second, func() bool { return len(clockEvents(t, d.db, ".incident.notification_due_soon", i.GetName())) > 1 })
		d.clock.Set(day(7, 11))
		testkit.Eventually(t, 10*time.Second, func() bool {
			return len(clockEvents(t, d.db, ".incident.notification_overdue", i.GetName())) > 0 &&
				len(clockEvents(t, d.db, ".incident.notification_due_soon", i.GetName())) > 2
		})
		if got := clockEvents(t, d.db, ".incident.notification_due_soon", i.GetName()); len(got) != 3 || got[1] != "gdpr" || got[2] != "insurer" {
			t.Errorf("due soon = %v", got)
		}
		over := outbox(t, d.db, ".incident.notification_overdue", i.GetName(), func() *riskv1.IncidentNotificationOverdue { return &riskv1.IncidentNotificationOverdue{} })
		if len(over) != 1 || over[0].GetClock().GetId() != "gdpr" || over[0].GetClock().GetState() != riskv1.NotificationClock_OVERDUE ||
			!over[0].GetDueTime().AsTime().Equal(day(7, 11)) {
			t.Errorf("notification_overdue = %v", over)
		}
		// GDPR notified an hour late.
		d.clock.Set(day(7, 12))
		b, err = d.inc.RecordBreachNotification(ctx, &riskv1.RecordBreachNotificationRequest{Name: name, Clock: "gdpr", Reference: "BfDI-77"})
		if err != nil || !b.GetNotificationClocks()[0].GetLate() {
			t.Errorf("late GDPR notification = %v, %v", b, err)
		}
		rec := outbox(t, d.db, ".incident.notification_recorded", i.GetName(), func() *riskv1.IncidentNotificationRecorded { return &riskv1.IncidentNotificationRecorded{} })
		if len(rec) != 2 || rec[1].GetClock().GetId() != "gdpr" || !rec[1].GetClock().GetLate() || rec[1].GetVersion() <= over[0].GetVersion() {
			t.Errorf("notification_recorded = %v", rec)
		}

		// With clocks, the incident keeps a breach type; an outage that turns out a breach gets
		// its breach impact.
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), Type: riskv1.Incident_OUTAGE},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"type"}}})
		d.AssertStatus(t, err, codes.FailedPrecondition, "BREACH_IMPACT_HAS_CLOCKS", "incident.type")
		if _, err := d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: "incidents/lan", Type: riskv1.Incident_SECURITY_BREACH},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"type"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.inc.GetBreachImpact(ctx, &riskv1.GetBreachImpactRequest{Name: "incidents/lan/breachImpact"}); err != nil {
			t.Errorf("breach impact of the incident that became a breach: %v", err)
		}
	})
}

// TestBreachClocksDueTogether lets the clocks of two breaches fall overdue at once, so that the
// scheduler fires them in one transaction: each clock's event carries a version of its own, one
// more than the previous event's about its incident, the incident ends at the last of them, and
// nothing else of the incident changes.
func TestBreachClocksDueTogether(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		var names []string
		before := map[string]*riskv1.Incident{}
		for _, id := range []string{"leak-a", "leak-b"} {
			i := d.declare(t, id, riskv1.Incident_SEV2, riskv1.Incident_DATA_LOSS)
			var clocks []*riskv1.NotificationClock
			for _, c := range []string{"c1", "c2", "c3", "c4"} {
				clocks = append(clocks, &riskv1.NotificationClock{Id: c, Regime: riskv1.NotificationClock_CUSTOM, Recipient: "r", Deadline: hours(2), WarnBefore: hours(1)})
			}
			if _, err := d.inc.UpdateBreachImpact(ctx, &riskv1.UpdateBreachImpactRequest{
				BreachImpact: &riskv1.BreachImpact{Name: i.GetName() + "/breachImpact", AwarenessTime: ts(at(12, 0)), NotificationClocks: clocks},
				UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"awareness_time", "notification_clocks"}}}); err != nil {
				t.Fatal(err)
			}
			got, err := d.inc.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: i.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			names, before[i.GetName()] = append(names, i.GetName()), got
		}
		updated := map[string]int64{}
		for _, name := range names {
			ev := outbox(t, d.db, ".incident.breach_impact_updated", name, func() *riskv1.IncidentBreachImpactUpdated { return &riskv1.IncidentBreachImpactUpdated{} })
			updated[name] = ev[len(ev)-1].GetVersion()
		}

		// Every clock is due at 14:00; at 15:00 all eight are overdue, their warnings past.
		d.clock.Set(at(15, 0))
		testkit.Eventually(t, 10*time.Second, func() bool {
			return len(clockEvents(t, d.db, ".incident.notification_overdue", names[0])) == 4 &&
				len(clockEvents(t, d.db, ".incident.notification_overdue", names[1])) == 4
		})
		for _, name := range names {
			over := outbox(t, d.db, ".incident.notification_overdue", name, func() *riskv1.IncidentNotificationOverdue { return &riskv1.IncidentNotificationOverdue{} })
			for n, ev := range over {
				if want := updated[name] + int64(n) + 1; ev.GetVersion() != want || ev.GetClock().GetId() != fmt.Sprintf("c%d", n+1) ||
					ev.GetIncident().GetEtag() == before[name].GetEtag() {
					t.Errorf("%s: overdue event %d = clock %s at version %d; want c%d at %d", name, n, ev.GetClock().GetId(), ev.GetVersion(), n+1, want)
				}
			}
			if n := countEvents(t, d.db, ".incident.notification_due_soon", name); n != 0 {
				t.Errorf("%s: %d due-soon events for clocks already overdue", name, n)
			}
			versions := testkit.Column[int64](t, d.db, `SELECT version FROM incidents WHERE id = $1`, strings.TrimPrefix(name, "incidents/"))
			if len(versions) != 1 || versions[0] != updated[name]+4 {
				t.Errorf("%s: stored version %v, want %d", name, versions, updated[name]+4)
			}
			after, err := d.inc.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			after.Etag, before[name].Etag = "", ""
			if !proto.Equal(after, before[name]) {
				t.Errorf("%s: the clocks changed the incident from %v to %v", name, before[name], after)
			}
		}
	})
}
