package vendors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	eventspkg "github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/server"
)

// incidentsNow is the day of the incident tests: February 2027, in the term of cloudContract.
var incidentsNow = time.Date(2027, 2, 20, 12, 0, 0, 0, time.UTC)

// slaContract is cloudContract with one service level: 99.9 % a month, SEV1 resolved within
// 4 hours, SEV2 within 8.
func slaContract() *vendorsv1.Contract {
	c := cloudContract()
	c.Slas = []*vendorsv1.ServiceLevel{{
		DisplayName: "Production API", AvailabilityTargetPercent: "99.9",
		MeasurementPeriod: vendorsv1.ServiceLevel_MONTHLY,
		ResponseTargets: []*vendorsv1.ResponseTarget{
			{Severity: vendorsv1.ResponseTarget_SEV1, ResolutionTime: durationpb.New(4 * time.Hour)},
			{Severity: vendorsv1.ResponseTarget_SEV2, ResolutionTime: durationpb.New(8 * time.Hour)},
		},
	}}
	return c
}

// incidentAt is an incident of the risk service as its events carry it: declared at
// detect+declareAfter, mitigated and resolved that long after detect (0: not yet).
func incidentAt(id, vendor string, typ riskv1.Incident_Type, sev riskv1.Incident_Severity, detect time.Time,
	declareAfter, mitigateAfter, resolveAfter time.Duration) *riskv1.Incident {
	at := func(d time.Duration) *timestamppb.Timestamp {
		if d == 0 {
			return nil
		}
		return timestamppb.New(detect.Add(d))
	}
	inc := &riskv1.Incident{Name: "incidents/" + id, Title: id, Type: typ, Severity: sev, Vendor: vendor,
		DetectTime: timestamppb.New(detect), DeclareTime: timestamppb.New(detect.Add(declareAfter)),
		MitigateTime: at(mitigateAfter), ResolveTime: at(resolveAfter), State: riskv1.Incident_DECLARED}
	switch {
	case resolveAfter != 0:
		inc.State = riskv1.Incident_RESOLVED
	case mitigateAfter != 0:
		inc.State = riskv1.Incident_MITIGATED
	}
	return inc
}

// TestIncidentsFillScorecards feeds the vendors service the risk service's events of four
// incidents in February 2027 — a SEV1 outage of acme resolved in 5 hours (its SLA says 4), a SEV2
// vendor failure of acme down 10 minutes, a SEV3 degradation of acme still open, and an incident
// without a vendor — and reads acme's scorecard of 2027-Q1: three incidents, by severity, and two
// breaches (the SEV1's resolution time; the month's availability, which the second outage brings
// to 45 minutes down of 40 320, below 99.9 %), each published once as vendor.sla_breached. Stale
// and repeated events, and a replay with the inbox and version marks wiped, change nothing.
func TestIncidentsFillScorecards(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		e := startContractsWith(t, db, clock.NewFake(incidentsNow), clock.NewFake(incidentsNow), &ns)
		contract := e.mustActive(t, "cloud", slaContract()).GetName()
		feed := testkit.StartFeed(t, db, "risk", testkit.WithNATS(ns))

		feb := time.Date(2027, 2, 3, 10, 0, 0, 0, time.UTC)
		sev1 := incidentAt("api-down", "vendors/acme", riskv1.Incident_OUTAGE, riskv1.Incident_SEV1, feb,
			5*time.Minute, 35*time.Minute, 5*time.Hour+5*time.Minute)
		sev2 := incidentAt("sso-fails", "vendors/acme", riskv1.Incident_VENDOR_FAILURE, riskv1.Incident_SEV2, feb.Add(7*24*time.Hour),
			time.Minute, 10*time.Minute, time.Hour)
		sev3 := incidentAt("slow-reports", "vendors/acme", riskv1.Incident_DEGRADATION, riskv1.Incident_SEV3, feb.Add(10*24*time.Hour),
			time.Minute, 0, 0)
		own := incidentAt("our-bug", "", riskv1.Incident_OUTAGE, riskv1.Incident_SEV1, feb, time.Minute, 2*time.Minute, 9*time.Hour)

		sent := 0
		publish := func(inc *riskv1.Incident, version int64) {
			t.Helper()
			declared := proto.Clone(inc).(*riskv1.Incident)
			declared.State, declared.MitigateTime, declared.ResolveTime = riskv1.Incident_DECLARED, nil, nil
			switch version {
			case 1:
				feed.Publish(t, inc.GetName(), 1, &riskv1.IncidentDeclared{Incident: declared, Version: 1})
			default:
				feed.Publish(t, inc.GetName(), version, &riskv1.IncidentResolved{Incident: inc, Version: version})
			}
			sent++
		}
		for _, inc := range []*riskv1.Incident{sev1, sev2, own} {
			publish(inc, 1)
			publish(inc, 4)
		}
		publish(sev3, 1)
		// Late: the SEV1's declaration again, older than its resolution.
		publish(sev1, 1)

		scorecard := "vendors/acme/scorecards/2027-Q1"
		var sc *vendorsv1.Scorecard
		testkit.Eventually(t, time.Minute, func() error {
			var err error
			sc, err = e.client.GetScorecard(context.Background(), &vendorsv1.GetScorecardRequest{Name: scorecard})
			if err != nil {
				return err
			}
			if sc.GetIncidentCount() != 3 || sc.GetSlaBreachCount() != 2 {
				return fmt.Errorf("scorecard has %d incidents and %d breaches; want 3 and 2", sc.GetIncidentCount(), sc.GetSlaBreachCount())
			}
			return nil
		})
		var bySeverity []string
		for _, c := range sc.GetIncidentsBySeverity() {
			bySeverity = append(bySeverity, fmt.Sprintf("%s:%d", c.GetSeverity(), c.GetCount()))
		}
		if want := []string{"SEV1:1", "SEV2:1", "SEV3:1"}; !slices.Equal(bySeverity, want) {
			t.Errorf("incidents by severity = %v; want %v", bySeverity, want)
		}
		type breach struct{ kind, incident, period, target, measured, contract string }
		var got []breach
		for _, b := range sc.GetSlaBreaches() {
			got = append(got, breach{b.GetKind().String(), b.GetIncident(), b.GetPeriod(), b.GetTarget(), b.GetMeasured(), b.GetContract()})
		}
		want := []breach{
			{"RESOLUTION_TIME", "incidents/api-down", "", "4h", "5h", contract},
			{"AVAILABILITY", "incidents/sso-fails", "2027-02", "99.9", "99.888", contract},
		}
		if !slices.Equal(got, want) {
			t.Errorf("breaches = %+v; want %+v", got, want)
		}
		for _, c := range sc.GetComponents() {
			if (c.GetCriterion() == "incidents" || c.GetCriterion() == "sla") && c.GetPoints() != 0 {
				t.Errorf("component %s earned %d points with incidents and breaches; want 0", c.GetCriterion(), c.GetPoints())
			}
		}

		breached := func() []*vendorsv1.VendorSlaBreached {
			return events(t, e.db, ".vendor.sla_breached", func() *vendorsv1.VendorSlaBreached { return &vendorsv1.VendorSlaBreached{} })
		}
		evs := breached()
		if len(evs) != 2 || evs[0].GetSlaBreach().GetName() != sc.GetSlaBreaches()[0].GetName() ||
			evs[0].GetScorecard() != scorecard || evs[0].GetVendor() != "vendors/acme" ||
			evs[1].GetSlaBreach().GetKind() != vendorsv1.SlaBreach_AVAILABILITY {
			t.Fatalf("vendor.sla_breached events = %v; want the two breaches, once each", evs)
		}

		// Every event again, with the inbox and the version marks wiped as after a retention
		// prune: the incidents' versions and the breaches' names hold.
		handled := func() int {
			return testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = 'risk-incidents'`)[0]
		}
		testkit.Eventually(t, time.Minute, func() error {
			if n := handled(); n < sent {
				return fmt.Errorf("%d of %d events handled", n, sent)
			}
			return nil
		})
		for _, table := range []string{"consumer_inbox", "consumer_versions"} {
			if _, err := e.db.ExecContext(context.Background(), `DELETE FROM `+table); err != nil {
				t.Fatal(err)
			}
		}
		feed.Redeliver(t, sent)
		testkit.Eventually(t, time.Minute, func() error {
			if n := handled(); n < sent {
				return fmt.Errorf("%d of %d events handled again", n, sent)
			}
			return nil
		})
		again, err := e.client.GetScorecard(context.Background(), &vendorsv1.GetScorecardRequest{Name: scorecard})
		if err != nil {
			t.Fatal(err)
		}
		if again.GetIncidentCount() != 3 || again.GetSlaBreachCount() != 2 || len(breached()) != 2 {
			t.Errorf("after the replay: %d incidents, %d breaches, %d events; want 3, 2, 2",
				again.GetIncidentCount(), again.GetSlaBreachCount(), len(breached()))
		}
	})
}

// TestSLABreachesAreReadable: the breaches the incidents' events leave behind are read by name
// (the name vendor.sla_breached carries) and listed, per vendor or across vendors, newest first
// unless ordered otherwise, with filters and pages. Two vendors have a contract with the same ID,
// so that a breach is found under its own vendor only.
func TestSLABreachesAreReadable(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		ns := testenv.NATSServer(t)
		e := startContractsWith(t, db, clock.NewFake(incidentsNow), clock.NewFake(incidentsNow), &ns)
		e.mustActive(t, "cloud", slaContract())
		e.seedVendor(t, "globex")
		globex := e.mustContract(t, "globex", "cloud", slaContract()).GetName()
		if _, err := e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: globex}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: globex, RequestId: newRequestID()}); err != nil {
			t.Fatal(err)
		}
		feed := testkit.StartFeed(t, db, "risk", testkit.WithNATS(ns))

		// acme: a SEV1 resolved in 5 hours (4 allowed), then an outage that takes February's
		// availability below 99.9 %. globex: a SEV2 resolved in 9 hours (8 allowed), down 20
		// minutes, which leaves its month at 99.950 %.
		feb := time.Date(2027, 2, 3, 10, 0, 0, 0, time.UTC)
		for _, inc := range []*riskv1.Incident{
			incidentAt("api-down", "vendors/acme", riskv1.Incident_OUTAGE, riskv1.Incident_SEV1, feb,
				5*time.Minute, 35*time.Minute, 5*time.Hour+5*time.Minute),
			incidentAt("sso-fails", "vendors/acme", riskv1.Incident_VENDOR_FAILURE, riskv1.Incident_SEV2, feb.Add(7*24*time.Hour),
				time.Minute, 10*time.Minute, time.Hour),
			incidentAt("mail-down", "vendors/globex", riskv1.Incident_OUTAGE, riskv1.Incident_SEV2, feb.Add(12*24*time.Hour),
				time.Minute, 20*time.Minute, 9*time.Hour+time.Minute),
		} {
			feed.Publish(t, inc.GetName(), 1, &riskv1.IncidentDeclared{Incident: inc, Version: 1})
			feed.Publish(t, inc.GetName(), 4, &riskv1.IncidentResolved{Incident: inc, Version: 4})
		}

		list := func(t *testing.T, req *vendorsv1.ListSlaBreachesRequest) []string {
			t.Helper()
			resp, err := e.client.ListSlaBreaches(ctx, req)
			if err != nil {
				t.Fatalf("ListSlaBreaches(%v): %v", req, err)
			}
			var got []string
			for _, b := range resp.GetSlaBreaches() {
				got = append(got, b.GetIncident()+" "+b.GetKind().String())
			}
			return got
		}
		testkit.Eventually(t, time.Minute, func() error {
			if got := list(t, &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-"}); len(got) != 3 {
				return fmt.Errorf("%d breaches listed: %v; want 3", len(got), got)
			}
			return nil
		})

		newest := []string{"incidents/mail-down RESOLUTION_TIME", "incidents/sso-fails AVAILABILITY", "incidents/api-down RESOLUTION_TIME"}
		for _, c := range []struct {
			name string
			req  *vendorsv1.ListSlaBreachesRequest
			want []string
		}{
			{"every vendor, newest first", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-"}, newest},
			{"blank order", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", OrderBy: " "}, newest},
			{"oldest first", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", OrderBy: "breach_time"},
				[]string{newest[2], newest[1], newest[0]}},
			{"one vendor", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/acme"}, newest[1:]},
			{"another vendor", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/globex"}, newest[:1]},
			{"a vendor without breaches", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/nobody"}, nil},
			{"by kind", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: "kind = AVAILABILITY"}, newest[1:2]},
			{"by severity", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: "severity = SEV2"}, newest[:2]},
			{"by incident", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: `incident = "incidents/api-down"`}, newest[2:]},
			{"by contract", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: `contract = "` + globex + `"`}, newest[:1]},
			{"by vendor", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: `vendor = "vendors/acme"`}, newest[1:]},
			{"by period", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: `period = "2027-02"`}, newest[1:2]},
			{"by time", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: `breach_time >= "2027-02-10T00:00:00Z"`}, newest[:2]},
			{"by service level", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/acme", Filter: `service_level = "Production API"`}, newest[1:]},
			{"most severe first", &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", OrderBy: "severity, breach_time desc"},
				[]string{newest[2], newest[0], newest[1]}},
		} {
			if got := list(t, c.req); !slices.Equal(got, c.want) {
				t.Errorf("%s: listed %v; want %v", c.name, got, c.want)
			}
		}

		// Page by page, one at a time: the same three, in the same order, and no token after.
		var paged []string
		req := &vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", PageSize: 1}
		for range 4 {
			resp, err := e.client.ListSlaBreaches(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range resp.GetSlaBreaches() {
				paged = append(paged, b.GetIncident()+" "+b.GetKind().String())
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				break
			}
		}
		if !slices.Equal(paged, newest) {
			t.Errorf("paged: %v; want %v", paged, newest)
		}

		// Each breach's event names it, and the name reads it as the list shows it.
		evs := events(t, e.db, ".vendor.sla_breached", func() *vendorsv1.VendorSlaBreached { return &vendorsv1.VendorSlaBreached{} })
		if len(evs) != 3 {
			t.Fatalf("%d vendor.sla_breached events; want 3", len(evs))
		}
		for _, ev := range evs {
			got, err := e.client.GetSlaBreach(ctx, &vendorsv1.GetSlaBreachRequest{Name: ev.GetSlaBreach().GetName()})
			if err != nil {
				t.Fatalf("GetSlaBreach(%s): %v", ev.GetSlaBreach().GetName(), err)
			}
			if !proto.Equal(got, ev.GetSlaBreach()) {
				t.Errorf("GetSlaBreach = %v; the event says %v", got, ev.GetSlaBreach())
			}
		}

		// An acme breach is not globex's; a made-up one is nobody's.
		acme := evs[0].GetSlaBreach().GetName()
		if !strings.HasPrefix(acme, "vendors/acme/slaBreaches/") {
			t.Fatalf("first breach %s; want one of acme", acme)
		}
		_, err := e.client.GetSlaBreach(ctx, &vendorsv1.GetSlaBreachRequest{Name: "vendors/globex/" + strings.TrimPrefix(acme, "vendors/acme/")})
		e.AssertStatus(t, err, codes.NotFound, "SLA_BREACH_NOT_FOUND")
		_, err = e.client.GetSlaBreach(ctx, &vendorsv1.GetSlaBreachRequest{Name: "vendors/acme/slaBreaches/nothing"})
		e.AssertStatus(t, err, codes.NotFound, "SLA_BREACH_NOT_FOUND")
		_, err = e.client.GetSlaBreach(ctx, &vendorsv1.GetSlaBreachRequest{Name: "vendors/acme/slaBreaches/"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
		for _, c := range []struct {
			req           *vendorsv1.ListSlaBreachesRequest
			reason, field string
		}{
			{&vendorsv1.ListSlaBreachesRequest{Parent: "vendors/Acme"}, "INVALID_ARGUMENT", "parent"},
			{&vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", Filter: "kind = LATE"}, "INVALID_ARGUMENT", "filter:FILTER_INVALID_VALUE"},
			{&vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", OrderBy: "target"}, "INVALID_ARGUMENT", "order_by:ORDER_BY_INVALID"},
			{&vendorsv1.ListSlaBreachesRequest{Parent: "vendors/-", PageToken: "not-a-token"}, "PAGE_TOKEN_INVALID", "page_token"},
		} {
			_, err := e.client.ListSlaBreaches(ctx, c.req)
			e.AssertStatus(t, err, codes.InvalidArgument, c.reason, c.field)
		}
	})
}

// TestIncidentEventsAreAppliedOrIgnored: every incident event type of the risk service is either
// applied by the vendors service or ignored with a reason, never both; a new one must be sorted.
func TestIncidentEventsAreAppliedOrIgnored(t *testing.T) {
	t.Parallel()
	kinds := map[string]string{}
	for m, why := range server.IncidentsIgnored {
		if why == "" {
			t.Errorf("%T is ignored without a reason", m)
		}
		kinds[string(m.ProtoReflect().Descriptor().FullName())] = "ignored"
	}
	for _, m := range server.IncidentsApplied {
		name := string(m.ProtoReflect().Descriptor().FullName())
		if kinds[name] != "" {
			t.Errorf("%s is both applied and ignored", name)
		}
		kinds[name] = "applied"
	}
	risk := (&riskv1.IncidentDeclared{}).ProtoReflect().Descriptor().ParentFile().Package()
	seen := 0
	protoregistry.GlobalFiles.RangeFilesByPackage(risk, func(f protoreflect.FileDescriptor) bool {
		for i := range f.Messages().Len() {
			md := f.Messages().Get(i)
			spec, err := eventspkg.SpecOfDescriptor(md)
			if err != nil || spec.Aggregate != "incident" {
				continue
			}
			seen++
			if kinds[spec.Type] == "" {
				t.Errorf("%s (%s) is an incident event the vendors service neither applies nor ignores", spec.Type, spec.Subject("quarterdeck"))
			}
			delete(kinds, spec.Type)
		}
		return true
	})
	if seen < 13 {
		t.Errorf("found %d incident event types in %s; want the 13 or more of the risk service", seen, risk)
	}
	for name := range kinds {
		t.Errorf("%s is listed but is no incident event of the risk service", name)
	}
	if got := server.IncidentsConsumer.Ignore; len(got) != len(server.IncidentsIgnored) {
		t.Errorf("the consumer ignores %v; want the %d types of IncidentsIgnored", got, len(server.IncidentsIgnored))
	}
}

// TestIgnoredIncidentEventsChangeNothing: an ignored incident event is acknowledged unread, even
// one carrying a different severity, and an applied event after it still moves the incident.
func TestIgnoredIncidentEventsChangeNothing(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		e := startContractsWith(t, db, clock.NewFake(incidentsNow), clock.NewFake(incidentsNow), &ns)
		e.mustActive(t, "cloud", slaContract())
		feed := testkit.StartFeed(t, db, "risk", testkit.WithNATS(ns))

		inc := incidentAt("slow-reports", "vendors/acme", riskv1.Incident_DEGRADATION, riskv1.Incident_SEV3,
			time.Date(2027, 2, 3, 10, 0, 0, 0, time.UTC), time.Minute, 0, 0)
		feed.Publish(t, inc.GetName(), 1, &riskv1.IncidentDeclared{Incident: inc, Version: 1})
		louder := proto.Clone(inc).(*riskv1.Incident)
		louder.Severity = riskv1.Incident_SEV1
		feed.Publish(t, inc.GetName(), 2, &riskv1.IncidentNotificationOverdue{Incident: louder, Version: 2})
		feed.Publish(t, inc.GetName(), 3, &riskv1.IncidentNoteAdded{Incident: louder, Version: 3})

		severities := func(want string) error {
			sc, err := e.client.GetScorecard(context.Background(), &vendorsv1.GetScorecardRequest{Name: "vendors/acme/scorecards/2027-Q1"})
			if err != nil {
				return err
			}
			var got []string
			for _, c := range sc.GetIncidentsBySeverity() {
				got = append(got, fmt.Sprintf("%s:%d", c.GetSeverity(), c.GetCount()))
			}
			if fmt.Sprint(got) != want {
				return fmt.Errorf("incidents by severity = %v; want %s", got, want)
			}
			return nil
		}
		handled := func(want int) error {
			if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = 'risk-incidents'`)[0]; n != want {
				return fmt.Errorf("%d events in the inbox; want %d", n, want)
			}
			return nil
		}
		// Both ignored events are acknowledged: the consumer has nothing left to deliver.
		testkit.WaitAcknowledged(t, feed.JetStream, feed.Stream(), "vendors_risk-incidents", 3)
		if err := errors.Join(handled(1), severities("[SEV3:1]")); err != nil {
			t.Fatal(err)
		}

		sev2 := proto.Clone(inc).(*riskv1.Incident)
		sev2.Severity = riskv1.Incident_SEV2
		feed.Publish(t, inc.GetName(), 4, &riskv1.IncidentSeverityChanged{Incident: sev2, Version: 4})
		testkit.Eventually(t, time.Minute, func() error { return errors.Join(handled(2), severities("[SEV2:1]")) })
	})
}
