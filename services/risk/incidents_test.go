package risk_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// desk is the risk service's incident API on a fake clock.
type desk struct {
	*register
	inc riskv1.IncidentServiceClient
}

func startDesk(t *testing.T, db testenv.Database, now time.Time) *desk {
	t.Helper()
	r := startRegister(t, db, now)
	return &desk{register: r, inc: riskv1.NewIncidentServiceClient(r.Conn)}
}

// at is a time of the desk's first day, 2026-12-04, UTC.
func at(h, m int) time.Time { return time.Date(2026, 12, 4, h, m, 0, 0, time.UTC) }

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// declare creates incident id of the severity, an outage unless typ is given.
func (d *desk) declare(t *testing.T, id string, sev riskv1.Incident_Severity, typ ...riskv1.Incident_Type) *riskv1.Incident {
	t.Helper()
	kind := riskv1.Incident_OUTAGE
	if len(typ) > 0 {
		kind = typ[0]
	}
	i, err := d.inc.CreateIncident(context.Background(), &riskv1.CreateIncidentRequest{IncidentId: id,
		Incident: &riskv1.Incident{Title: "Incident " + id, Type: kind, Severity: sev}})
	if err != nil {
		t.Fatalf("declare %s: %v", id, err)
	}
	return i
}

// timeline lists the whole timeline of an incident.
func (d *desk) timeline(t *testing.T, name string) []*riskv1.TimelineEntry {
	t.Helper()
	all, _ := testkit.AllPages(t, func(token string) ([]*riskv1.TimelineEntry, string, error) {
		r, err := d.inc.ListTimelineEntries(context.Background(), &riskv1.ListTimelineEntriesRequest{Parent: name, PageSize: 3, PageToken: token})
		return r.GetTimelineEntries(), r.GetNextPageToken(), err
	})
	return all
}

// TestIncidentLifecycle declares a vendor outage and takes it through every step: the step times
// stay in order (backdating needs a reason, nothing in the future), each step, severity change
// and role change is a timeline entry, and the events carry what consumers need.
func TestIncidentLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		d.newRisk(t, "payments", true)

		i, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "checkout", Incident: &riskv1.Incident{
			Title: " Checkout fails for card payments ", Type: riskv1.Incident_VENDOR_FAILURE, Severity: riskv1.Incident_SEV2,
			Roles:            &riskv1.IncidentRoles{Commander: "ana@example.com", Responders: []string{"bo@example.com"}},
			AffectedServices: []string{"checkout"}, Vendor: "vendors/payco", VendorContract: "vendors/payco/contracts/psp",
			LinkedRisks: []string{"risks/payments"}, DetectTime: ts(at(11, 40))}})
		if err != nil {
			t.Fatal(err)
		}
		if i.GetName() != "incidents/checkout" || i.GetTitle() != "Checkout fails for card payments" || i.GetState() != riskv1.Incident_DECLARED ||
			!i.GetDeclareTime().AsTime().Equal(at(12, 0)) || !i.GetDetectTime().AsTime().Equal(at(11, 40)) || i.GetDeclarer() == "" ||
			i.GetAcknowledgeTime() != nil || i.GetEtag() == "" || i.GetCost() != nil {
			t.Errorf("declared = %v", i)
		}
		decl := outbox(t, d.db, ".incident.declared", i.GetName(), func() *riskv1.IncidentDeclared { return &riskv1.IncidentDeclared{} })
		if len(decl) != 1 || decl[0].GetVersion() != 1 || decl[0].GetIncident().GetVendor() != "vendors/payco" ||
			!slices.Equal(decl[0].GetIncident().GetLinkedRisks(), []string{"risks/payments"}) {
			t.Errorf("incident.declared = %v", decl)
		}
		if n := countEvents(t, d.db, ".incident.cost_changed", i.GetName()); n != 0 {
			t.Errorf("cost_changed without a cost: %d", n)
		}

		// Refusals of the declaration, each naming its field.
		for _, c := range []struct {
			name   string
			req    *riskv1.CreateIncidentRequest
			fields []string
		}{
			{"no type", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Severity: riskv1.Incident_SEV3}},
				[]string{"incident.type:REQUIRED"}},
			{"no severity", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE}},
				[]string{"incident.severity:REQUIRED"}},
			{"blank title", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: " ", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3}},
				[]string{"incident.title:REQUIRED"}},
			{"detected in the future", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, DetectTime: ts(at(12, 30))}}, []string{"incident.detect_time:TIME_IN_FUTURE"}},
			{"detected after the declaration", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, DetectTime: ts(at(11, 0))}, DeclareTime: ts(at(10, 0)), Reason: "paper log"},
				[]string{"incident.detect_time:TIME_OUT_OF_ORDER"}},
			// A gRPC client may send a time protobuf's JSON cannot hold: refused, not a 500.
			{"detected before year 1", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, DetectTime: &timestamppb.Timestamp{Seconds: -62135596801}}},
				[]string{"incident.detect_time:TIMESTAMP_OUT_OF_RANGE", "incident.detect_time:TIMESTAMP_GTE"}},
			// Times before 1970 are mistakes (a client's zero time, a mistyped year), not
			// incidents: refused rather than measured from.
			{"detected in year 1", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, DetectTime: timestamppb.New(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))}},
				[]string{"incident.detect_time:TIMESTAMP_GTE"}},
			{"detected in 1969", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, DetectTime: timestamppb.New(time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC))}},
				[]string{"incident.detect_time:TIMESTAMP_GTE"}},
			{"declared in year 1", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3}, DeclareTime: timestamppb.New(time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)), Reason: "paper log"},
				[]string{"declare_time:TIMESTAMP_GTE"}},
			{"backdated without a reason", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3}, DeclareTime: ts(at(9, 0))}, []string{"reason:BACKDATE_REASON_REQUIRED"}},
			{"contract of another vendor", &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE,
				Severity: riskv1.Incident_SEV3, Vendor: "vendors/a", VendorContract: "vendors/b/contracts/c"}},
				[]string{"incident.vendor_contract:VENDOR_CONTRACT_MISMATCH"}},
		} {
			_, err := d.inc.CreateIncident(ctx, c.req)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v; want INVALID_ARGUMENT", c.name, err)
				continue
			}
			testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.fields...)
		}
		_, err = d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "checkout",
			Incident: &riskv1.Incident{Title: "x", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3}})
		d.AssertStatus(t, err, codes.AlreadyExists, "INCIDENT_ALREADY_EXISTS")

		// Acknowledged ten minutes later; a time before the declaration is out of order.
		d.clock.Set(at(12, 10))
		_, err = d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName(), AcknowledgeTime: ts(at(11, 50)), Reason: "paged"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "acknowledge_time:TIME_OUT_OF_ORDER")
		_, err = d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName()})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		ack, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName(), Etag: i.GetEtag()})
		if err != nil || ack.GetState() != riskv1.Incident_ACKNOWLEDGED || !ack.GetAcknowledgeTime().AsTime().Equal(at(12, 10)) {
			t.Fatalf("acknowledge = %v, %v", ack, err)
		}
		_, err = d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName()})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV1,
			Reason: "every card payment fails", Etag: i.GetEtag()})
		d.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")

		// The severity goes up, with a reason.
		d.clock.Set(at(12, 30))
		_, err = d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV1, Reason: " "})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason")
		_, err = d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV2, Reason: "same"})
		d.AssertStatus(t, err, codes.InvalidArgument, "SEVERITY_UNCHANGED", "severity")
		sev, err := d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV1,
			Reason: "every card payment fails"})
		if err != nil || sev.GetSeverity() != riskv1.Incident_SEV1 {
			t.Fatalf("change severity = %v, %v", sev, err)
		}
		sc := outbox(t, d.db, ".incident.severity_changed", i.GetName(), func() *riskv1.IncidentSeverityChanged { return &riskv1.IncidentSeverityChanged{} })
		if len(sc) != 1 || sc[0].GetPreviousSeverity() != riskv1.Incident_SEV2 || sc[0].GetIncident().GetSeverity() != riskv1.Incident_SEV1 ||
			sc[0].GetReason() != "every card payment fails" {
			t.Errorf("incident.severity_changed = %v", sc)
		}

		// A new commander, a responder more; the cost becomes known.
		up, err := d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(),
			Roles: &riskv1.IncidentRoles{Commander: "cy@example.com", Responders: []string{"bo@example.com", "di@example.com"}},
			Cost:  eur(12_000), BudgetLine: "budgets/it-2026/lines/ops"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.commander", "roles.responders", "cost", "budget_line"}}, Reason: "shift change"})
		if err != nil || up.GetRoles().GetCommander() != "cy@example.com" || up.GetCost().GetUnits() != 12_000 {
			t.Fatalf("update = %v, %v", up, err)
		}
		cost := outbox(t, d.db, ".incident.cost_changed", i.GetName(), func() *riskv1.IncidentCostChanged { return &riskv1.IncidentCostChanged{} })
		if len(cost) != 1 || cost[0].GetPreviousCost() != nil || cost[0].GetIncident().GetBudgetLine() != "budgets/it-2026/lines/ops" {
			t.Errorf("incident.cost_changed = %v", cost)
		}
		upd := outbox(t, d.db, ".incident.updated", i.GetName(), func() *riskv1.IncidentUpdated { return &riskv1.IncidentUpdated{} })
		if len(upd) != 1 || cost[0].GetVersion() != upd[0].GetVersion()+1 {
			t.Errorf("incident.updated = %v; want one, before cost_changed", upd)
		}
		// Severity changes only with :changeSeverity.
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), Severity: riskv1.Incident_SEV4},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"severity"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")
		// A corrected detect time needs a reason and stays before the declaration.
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), DetectTime: ts(at(11, 20))},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"detect_time"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason:REASON_REQUIRED")
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), DetectTime: ts(at(12, 5))},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"detect_time"}}, Reason: "monitoring"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "incident.detect_time:TIME_OUT_OF_ORDER")
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(),
			DetectTime: timestamppb.New(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"detect_time"}}, Reason: "monitoring"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "incident.detect_time:TIMESTAMP_GTE")
		if _, err := d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), DetectTime: ts(at(11, 20))},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"detect_time"}}, Reason: "the first alert fired at 11:20"}); err != nil {
			t.Fatal(err)
		}

		// Mitigated at 12:20, entered at 13:00: backdated, with a reason; not before the acknowledgement.
		d.clock.Set(at(13, 0))
		_, err = d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName(), MitigateTime: ts(at(12, 20))})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason:BACKDATE_REASON_REQUIRED")
		_, err = d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName(), MitigateTime: ts(at(12, 5)), Reason: "failover"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "mitigate_time:TIME_OUT_OF_ORDER")
		_, err = d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName(), MitigateTime: ts(at(13, 5)), Reason: "failover"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "mitigate_time:TIME_IN_FUTURE")
		mit, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName(), MitigateTime: ts(at(12, 20)),
			Reason: "failed over to the second processor at 12:20"})
		if err != nil || !mit.GetMitigateTime().AsTime().Equal(at(12, 20)) {
			t.Fatalf("mitigate = %v, %v", mit, err)
		}
		d.clock.Set(at(14, 0))
		res, err := d.inc.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: i.GetName()})
		if err != nil || res.GetState() != riskv1.Incident_RESOLVED {
			t.Fatalf("resolve = %v, %v", res, err)
		}
		rv := outbox(t, d.db, ".incident.resolved", i.GetName(), func() *riskv1.IncidentResolved { return &riskv1.IncidentResolved{} })
		if len(rv) != 1 || !rv[0].GetIncident().GetDetectTime().AsTime().Equal(at(11, 20)) || !rv[0].GetIncident().GetResolveTime().AsTime().Equal(at(14, 0)) ||
			rv[0].GetIncident().GetVendorContract() != "vendors/payco/contracts/psp" || rv[0].GetIncident().GetCost().GetUnits() != 12_000 {
			t.Errorf("incident.resolved = %v", rv)
		}
		// A SEV1 closes only with its postmortem published.
		_, err = d.inc.CloseIncident(ctx, &riskv1.CloseIncidentRequest{Name: i.GetName()})
		d.AssertStatus(t, err, codes.FailedPrecondition, "POSTMORTEM_NOT_PUBLISHED")

		// The timeline: every step, severity and role change, in the order they happened (the
		// backdated mitigation before the severity change written earlier).
		var got []string
		for _, e := range d.timeline(t, i.GetName()) {
			got = append(got, e.GetKind().String()+" "+e.GetOccurTime().AsTime().Format("15:04")+" "+e.GetRole()+e.GetToState().String())
		}
		want := []string{
			"STATE_CHANGE 12:00 DECLARED",
			"ROLE_CHANGE 12:00 commanderSTATE_UNSPECIFIED",
			"ROLE_CHANGE 12:00 respondersSTATE_UNSPECIFIED",
			"STATE_CHANGE 12:10 ACKNOWLEDGED",
			"STATE_CHANGE 12:20 MITIGATED",
			"SEVERITY_CHANGE 12:30 STATE_UNSPECIFIED",
			"ROLE_CHANGE 12:30 commanderSTATE_UNSPECIFIED",
			"ROLE_CHANGE 12:30 respondersSTATE_UNSPECIFIED",
			"DETECT_TIME_CHANGE 12:30 STATE_UNSPECIFIED",
			"STATE_CHANGE 14:00 RESOLVED",
		}
		if !slices.Equal(got, want) {
			t.Errorf("timeline =\n%v\nwant\n%v", got, want)
		}
	})
}

// TestTimelineIsAppendOnly: notes join the timeline in the order of their times; the API has no
// way to change or remove an entry, and entries read again after later changes are unchanged.
func TestTimelineIsAppendOnly(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		i := d.declare(t, "vpn", riskv1.Incident_SEV3)
		d.clock.Set(at(12, 30))
		note, err := d.inc.CreateTimelineEntry(ctx, &riskv1.CreateTimelineEntryRequest{Parent: i.GetName(),
			TimelineEntry: &riskv1.TimelineEntry{Text: "Users report VPN drops since 11:55", OccurTime: ts(at(12, 0).Add(30 * time.Second))}})
		if err != nil || note.GetKind() != riskv1.TimelineEntry_NOTE || note.GetAuthor() == "" || note.GetName() != "incidents/vpn/timelineEntries/00000002" {
			t.Fatalf("note = %v, %v", note, err)
		}
		for _, c := range []struct {
			name  string
			entry *riskv1.TimelineEntry
			field string
		}{
			{"empty", &riskv1.TimelineEntry{Text: " "}, "timeline_entry.text:REQUIRED"},
			{"not a note", &riskv1.TimelineEntry{Text: "x", Kind: riskv1.TimelineEntry_SEVERITY_CHANGE}, "timeline_entry.kind:NOTE_ONLY"},
			{"future", &riskv1.TimelineEntry{Text: "x", OccurTime: ts(at(13, 0))}, "timeline_entry.occur_time:TIME_IN_FUTURE"},
			{"before detection", &riskv1.TimelineEntry{Text: "x", OccurTime: ts(at(11, 0))}, "timeline_entry.occur_time:TIME_OUT_OF_ORDER"},
		} {
			_, err := d.inc.CreateTimelineEntry(ctx, &riskv1.CreateTimelineEntryRequest{Parent: i.GetName(), TimelineEntry: c.entry})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.field)
		}
		_, err = d.inc.CreateTimelineEntry(ctx, &riskv1.CreateTimelineEntryRequest{Parent: "incidents/nothere", TimelineEntry: &riskv1.TimelineEntry{Text: "x"}})
		d.AssertStatus(t, err, codes.NotFound, "INCIDENT_NOT_FOUND")
		if n := countEvents(t, d.db, ".incident.note_added", i.GetName()); n != 1 {
			t.Errorf("incident.note_added = %d", n)
		}

		before := d.timeline(t, i.GetName())
		if len(before) != 2 || before[1].GetName() != note.GetName() {
			t.Fatalf("timeline = %v", before)
		}
		// Later changes add entries and change none.
		if _, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV4, Reason: "one office"}); err != nil {
			t.Fatal(err)
		}
		after := d.timeline(t, i.GetName())
		if len(after) != 4 {
			t.Fatalf("timeline after two changes = %v", after)
		}
		for n := range before {
			if !proto.Equal(before[n], after[n]) {
				t.Errorf("entry %d changed: %v → %v", n, before[n], after[n])
			}
		}
		got, err := d.inc.GetTimelineEntry(ctx, &riskv1.GetTimelineEntryRequest{Name: note.GetName()})
		if err != nil || !proto.Equal(got, note) {
			t.Errorf("get note = %v, %v", got, err)
		}
		_, err = d.inc.GetTimelineEntry(ctx, &riskv1.GetTimelineEntryRequest{Name: "incidents/vpn/timelineEntries/00000099"})
		d.AssertStatus(t, err, codes.NotFound, "TIMELINE_ENTRY_NOT_FOUND")
		notes, err := d.inc.ListTimelineEntries(ctx, &riskv1.ListTimelineEntriesRequest{Parent: i.GetName(), Filter: "kind = NOTE"})
		if err != nil || len(notes.GetTimelineEntries()) != 1 {
			t.Errorf("notes = %v, %v", notes, err)
		}
		// No method of the API updates or deletes an entry.
		sd := riskv1.File_quarterdeck_risk_v1_incident_service_proto.Services().ByName("IncidentService")
		for n := range sd.Methods().Len() {
			if m := sd.Methods().Get(n); m.Output().FullName() == "quarterdeck.risk.v1.TimelineEntry" && m.Name() != "CreateTimelineEntry" && m.Name() != "GetTimelineEntry" {
				t.Errorf("%s writes timeline entries", m.Name())
			}
		}
	})
}

// TestIncidentClosing: a SEV3 incident closes without a postmortem; CLOSED, it takes only its
// cost. Callers need incidents.write to handle and incidents.manage to close.
func TestIncidentClosing(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(12, 0))
		ctx := context.Background()
		i := d.declare(t, "printer", riskv1.Incident_SEV3)
		reader := riskv1.NewIncidentServiceClient(d.ConnAs(t, "users/reader", "incidents.read"))
		_, err := reader.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName()})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("acknowledge with incidents.read = %v", err)
		}
		if _, err := reader.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: i.GetName()}); err != nil {
			t.Errorf("get with incidents.read: %v", err)
		}
		for _, step := range []func() error{
			func() error {
				_, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: i.GetName()})
				return err
			},
			func() error {
				_, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: i.GetName()})
				return err
			},
			func() error {
				_, err := d.inc.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: i.GetName()})
				return err
			},
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		writer := riskv1.NewIncidentServiceClient(d.ConnAs(t, "users/writer", "incidents.read", "incidents.write"))
		_, err = writer.CloseIncident(ctx, &riskv1.CloseIncidentRequest{Name: i.GetName()})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("close with incidents.write = %v", err)
		}
		d.clock.Set(at(12, 1))
		closed, err := d.inc.CloseIncident(ctx, &riskv1.CloseIncidentRequest{Name: i.GetName(), Reason: "toner replaced"})
		if err != nil || closed.GetState() != riskv1.Incident_CLOSED || !closed.GetCloseTime().AsTime().Equal(at(12, 1)) {
			t.Fatalf("close = %v, %v", closed, err)
		}
		if n := countEvents(t, d.db, ".incident.closed", i.GetName()); n != 1 {
			t.Errorf("incident.closed = %d", n)
		}
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), Title: "x"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INCIDENT_CLOSED")
		_, err = d.inc.ChangeIncidentSeverity(ctx, &riskv1.ChangeIncidentSeverityRequest{Name: i.GetName(), Severity: riskv1.Incident_SEV1, Reason: "x"})
		d.AssertStatus(t, err, codes.FailedPrecondition, "INCIDENT_CLOSED")
		// The cost, learnt later, still lands, with the budget line; the REST form of the mask
		// (cost.units …) means the whole cost.
		c, err := d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{Incident: &riskv1.Incident{Name: i.GetName(), Cost: eur(300)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"cost.currency_code", "cost.units"}}})
		if err != nil || c.GetCost().GetUnits() != 300 {
			t.Errorf("cost of a closed incident = %v, %v", c, err)
		}

		// A declaration backdated with a reason, retried with its request ID: one incident, and
		// the reason in its first timeline entry.
		late := &riskv1.CreateIncidentRequest{IncidentId: "erp", RequestId: "5f1c1a52-7d7e-4c84-9c3e-3f1f0c2b9a11",
			DeclareTime: ts(at(11, 0)), Reason: "declared on the phone at 11:00, entered at 12:01",
			Incident: &riskv1.Incident{Title: "ERP down", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV1,
				LinkedRisks: []string{"risks/erp-outage"}, AffectedServices: []string{"erp", "payroll"}}}
		first, err := d.inc.CreateIncident(ctx, late)
		if err != nil || !first.GetDeclareTime().AsTime().Equal(at(11, 0)) || !first.GetDetectTime().AsTime().Equal(at(11, 0)) {
			t.Fatalf("backdated declaration = %v, %v", first, err)
		}
		again, err := d.inc.CreateIncident(ctx, late)
		if err != nil || !proto.Equal(again, first) {
			t.Errorf("retried declaration = %v, %v", again, err)
		}
		if n := countEvents(t, d.db, ".incident.declared", first.GetName()); n != 1 {
			t.Errorf("incident.declared of the retried declaration = %d", n)
		}
		if e := d.timeline(t, first.GetName()); len(e) != 1 || e[0].GetReason() != late.GetReason() {
			t.Errorf("timeline of the backdated declaration = %v", e)
		}

		// Lists filter by severity, state, type, links and times.
		d.declare(t, "wifi", riskv1.Incident_SEV4, riskv1.Incident_DEGRADATION)
		for _, c := range []struct {
			filter, order string
			want          []string
		}{
			{"severity = SEV1 OR severity = SEV3", "severity", []string{"incidents/erp", "incidents/printer"}},
			{"state != CLOSED", "severity desc", []string{"incidents/wifi", "incidents/erp"}},
			{"type = DEGRADATION", "", []string{"incidents/wifi"}},
			{`close_time >= "2026-12-04T12:00:00Z"`, "", []string{"incidents/printer"}},
			{`linked_risks:"risks/erp-outage" AND affected_services:"payroll"`, "", []string{"incidents/erp"}},
			{`declare_time < "2026-12-04T11:30:00Z"`, "declare_time desc", []string{"incidents/erp"}},
		} {
			l, err := d.inc.ListIncidents(ctx, &riskv1.ListIncidentsRequest{Filter: c.filter, OrderBy: c.order})
			var names []string
			for _, x := range l.GetIncidents() {
				names = append(names, x.GetName())
			}
			if err != nil || !slices.Equal(names, c.want) {
				t.Errorf("list %q by %q = %v, %v; want %v", c.filter, c.order, names, err, c.want)
			}
		}
	})
}

// TestIncidentRolesNamingPeople: a role may hold a free name, as before, or a person's name
// (people/…), which talent is asked about; a malformed one is refused on its field, and with
// talent down the change is UNAVAILABLE and nothing is changed. (test/crossservice runs the
// roles against a real talent service.)
func TestIncidentRolesNamingPeople(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		d := startDesk(t, db, at(9, 0))
		ctx := context.Background()
		free, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "free", Incident: &riskv1.Incident{
			Title: "Free names", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3,
			Roles: &riskv1.IncidentRoles{Commander: "alice@example.com", Scribe: "@carol", Responders: []string{"bob", "on-call team"}}}})
		if err != nil || free.GetRoles().GetCommander() != "alice@example.com" {
			t.Fatalf("roles with free names = %v, %v", free, err)
		}
		_, err = d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{Incident: &riskv1.Incident{
			Title: "Odd", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3,
			Roles: &riskv1.IncidentRoles{Commander: "people/Not_An_ID", Responders: []string{"bob", "people/a/b"}}}})
		d.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "incident.roles.commander", "incident.roles.responders[1]")

		// Talent is down: nothing is declared, nothing changed.
		_, err = d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "named", Incident: &riskv1.Incident{
			Title: "Named", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3,
			Roles: &riskv1.IncidentRoles{Commander: "people/ada"}}})
		d.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		_, err = d.inc.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: "incidents/named"})
		d.AssertStatus(t, err, codes.NotFound, "INCIDENT_NOT_FOUND")
		_, err = d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: free.GetName(), Roles: &riskv1.IncidentRoles{Scribe: "people/ada"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.scribe"}}})
		d.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		if got, err := d.inc.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: free.GetName()}); err != nil || got.GetEtag() != free.GetEtag() {
			t.Errorf("after the refused update = %v, %v; want it unchanged", got, err)
		}
		// A change that names no person needs no talent.
		if _, err := d.inc.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: free.GetName(), Title: "Free names, renamed", Roles: &riskv1.IncidentRoles{Scribe: "dave"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "roles.scribe"}}}); err != nil {
			t.Error(err)
		}
	})
}
