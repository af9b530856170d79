package crossservice_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// vendorsFeed stands in for the vendors service: it publishes vendors events onto the vendors
// stream exactly as the vendors outbox relay would (subject, CloudEvents headers, version), so
// that a test can send a thousand assessments without completing them through the API. A feed
// of another domain (newFeed) sends a copy of that domain's events.
type vendorsFeed struct {
	js     jetstream.JetStream
	events *outbox.Factory
	stream string
}

func newVendorsFeed(t *testing.T, ns testenv.NATS, js jetstream.JetStream) *vendorsFeed {
	t.Helper()
	return newFeed(t, ns, js, "vendors")
}

// newFeed is a feed of domain's events onto its stream.
func newFeed(t *testing.T, ns testenv.NATS, js jetstream.JetStream, domain string) *vendorsFeed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := events.StreamConfig{Prefix: ns.SubjectPrefix}
	if _, err := events.EnsureStream(ctx, js, cfg, domain); err != nil {
		t.Fatal(err)
	}
	f, err := outbox.NewFactory(ns.SubjectPrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &vendorsFeed{js: js, events: f, stream: events.StreamName(ns.SubjectPrefix, domain)}
}

// publish sends the event about resource at version, and waits for the stream to store it.
func (f *vendorsFeed) publish(t *testing.T, resource string, version int64, ev proto.Message) {
	t.Helper()
	m, err := f.events.New(context.Background(), ev, resource, version)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.js.PublishMsg(ctx, m.NATSMsg(), jetstream.WithExpectStream(f.stream)); err != nil {
		t.Fatal(err)
	}
}

// assessed is assessment.completed of assessment id of vendor, rated rating at completed.
func assessed(vendor, id string, tier int32, rating vendorsv1.RiskRating, completed time.Time) (string, *vendorsv1.AssessmentCompleted) {
	name := vendor + "/assessments/" + id
	return name, &vendorsv1.AssessmentCompleted{
		Assessment: &vendorsv1.Assessment{Name: name, Assessor: "users/assessor", State: vendorsv1.Assessment_COMPLETED,
			RiskRating: rating, CompleteTime: timestamppb.New(completed)},
		Vendor: vendor, VendorTier: tier, RiskRating: rating, Version: 2,
	}
}

// registerState is what the test compares before and after a replay: every vendor risk as the
// API shows it, with its score history, and the number of events risk published.
type registerState struct {
	risks   map[string]*riskv1.Risk
	history map[string][]*riskv1.RiskScoreChange
	outbox  int
}

func readRegister(t *testing.T, c riskv1.RiskServiceClient, db *sqldb.DB) registerState {
	t.Helper()
	ctx := context.Background()
	st := registerState{risks: map[string]*riskv1.Risk{}, history: map[string][]*riskv1.RiskScoreChange{}}
	rs, _ := testkit.AllPages(t, func(token string) ([]*riskv1.Risk, string, error) {
		r, err := c.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: "category = VENDOR", PageSize: 100, PageToken: token})
		return r.GetRisks(), r.GetNextPageToken(), err
	})
	for _, r := range rs {
		st.risks[r.GetSource()] = r
		h, _ := testkit.AllPages(t, func(token string) ([]*riskv1.RiskScoreChange, string, error) {
			r, err := c.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: r.GetName(), PageToken: token})
			return r.GetRiskScoreChanges(), r.GetNextPageToken(), err
		})
		st.history[r.GetSource()] = h
	}
	st.outbox = testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox`)[0]
	return st
}

// registerAlone starts the risk service alone on ns, on the fake clock at today, with talent out
// of reach (none of the reactions these tests feed calls it) and its consumers retrying within
// tens of milliseconds, and returns it with its client.
func registerAlone(t *testing.T, db testenv.Database, ns testenv.NATS) (*testkit.Service, riskv1.RiskServiceClient) {
	t.Helper()
	svc := testkit.Start(t, db, risk.Service(), testkit.WithNATS(ns), testkit.WithHostOptions(func(o *host.Options) {
		o.Clock = clock.NewFake(today)
		o.Peers = map[string]string{"talent": "127.0.0.1:1"}
		o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	}))
	return svc, riskv1.NewRiskServiceClient(svc.Conn)
}

// waitHandled waits until consumer, of the service whose database is db, has handled want events.
func waitHandled(t *testing.T, db *sqldb.DB, consumer string, want int) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, func() error {
		n := testkit.Column[int](t, db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = $1`, consumer)[0]
		if n < want {
			return fmt.Errorf("%s handled %d of %d events", consumer, n, want)
		}
		return nil
	})
}

// inbox counts the events the risk service's vendors consumer has handled.
func inbox(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = 'vendors-assessment-completed'`)[0]
}

// TestVendorAssessmentsOpenOneRiskPerVendor sends 1,000 critical assessments of 10 vendors, and
// a late one, older and rated HIGH: the register holds exactly 10 vendor risks, one per vendor,
// each scored for a CRITICAL rating of its vendor's tier. A replay of the whole stream — through
// the inbox, and again with the inbox and version marks wiped, as after a retention prune —
// changes nothing. A newer HIGH assessment then refreshes its vendor's risk.
func TestVendorAssessmentsOpenOneRiskPerVendor(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		feed := newVendorsFeed(t, ns, js)
		startRisk := func() (*testkit.Service, riskv1.RiskServiceClient) {
			svc := testkit.Start(t, db, risk.Service(), testkit.WithNATS(ns), testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = clock.NewFake(today)
				o.Peers = map[string]string{"talent": "127.0.0.1:1"}
				o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
			}))
			return svc, riskv1.NewRiskServiceClient(svc.Conn)
		}
		svc, c := startRisk()
		rdb := svc.DB(t)

		const vendors, perVendor = 10, 100
		start := today.Add(-30 * 24 * time.Hour)
		tierOf := func(v int) int32 { return int32(v%4) + 1 }
		last := map[string]string{} // vendor → its newest assessment
		for i := range vendors * perVendor {
			v := i % vendors
			vendor := fmt.Sprintf("vendors/v%02d", v)
			name, ev := assessed(vendor, fmt.Sprintf("a%04d", i), tierOf(v), vendorsv1.RiskRating_CRITICAL, start.Add(time.Duration(i)*time.Minute))
			feed.publish(t, name, 2, ev)
			last[vendor] = name
		}
		// Late, older than every other and rated HIGH: it must not win.
		name, ev := assessed("vendors/v03", "early", tierOf(3), vendorsv1.RiskRating_HIGH, start.Add(-time.Hour))
		feed.publish(t, name, 2, ev)
		const sent = vendors*perVendor + 1
		testkit.Eventually(t, 5*time.Minute, func() error {
			if n := inbox(t, rdb); n < sent {
				return fmt.Errorf("%d of %d events handled", n, sent)
			}
			return nil
		})

		before := readRegister(t, c, rdb)
		if len(before.risks) != vendors {
			t.Fatalf("%d vendor risks, want %d: %v", len(before.risks), vendors, keys(before.risks))
		}
		impact := map[int32]int32{1: 5, 2: 4, 3: 3, 4: 2}
		for v := range vendors {
			vendor := fmt.Sprintf("vendors/v%02d", v)
			r := before.risks[vendor]
			want := &riskv1.RiskScore{Likelihood: 5, Impact: impact[tierOf(v)]}
			if r == nil || r.GetCategory() != riskv1.Risk_VENDOR || len(r.GetVendors()) != 1 || r.GetVendors()[0] != vendor ||
				r.GetResidual().GetLikelihood() != want.GetLikelihood() || r.GetResidual().GetImpact() != want.GetImpact() ||
				r.GetState() != riskv1.Risk_ASSESSED || r.GetAssessor() != "" {
				// A reaction is not a person's assessment: no assessor; the history names the cause.
				t.Errorf("risk of %s = %v; want a VENDOR risk linked to it, ASSESSED at %v", vendor, r, want)
				continue
			}
			// The scores never changed after the first assessment: one entry, caused by it.
			h := before.history[vendor]
			if len(h) != 1 || h[0].GetCause() != fmt.Sprintf("%s/assessments/a%04d", vendor, v) || h[0].GetActor() != "service:risk" {
				t.Errorf("score history of %s = %v; want one change caused by its first assessment", vendor, h)
			}
		}

		// A replay of the stream, as an operator resets the consumer: the service stops, its
		// durable is deleted, and the service starts again, reading the stream from its start.
		// Through the inbox every event is a duplicate; with the inbox and the version marks
		// wiped, as after a retention prune, the reactions' own positions must hold.
		replay := func(wipe bool) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := svc.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if wipe {
				for _, table := range []string{"consumer_inbox", "consumer_versions"} {
					if _, err := rdb.ExecContext(ctx, `DELETE FROM `+table); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := js.DeleteConsumer(ctx, feed.stream, "risk_vendors-assessment-completed"); err != nil {
				t.Fatal(err)
			}
			svc, c = startRisk()
			testkit.Eventually(t, 5*time.Minute, func() error {
				info, err := js.Consumer(context.Background(), feed.stream, "risk_vendors-assessment-completed")
				if err != nil {
					return err
				}
				ci, err := info.Info(context.Background())
				if err != nil {
					return err
				}
				if ci.Delivered.Stream < sent || ci.NumAckPending > 0 || ci.NumPending > 0 {
					return fmt.Errorf("replay at stream sequence %d of %d, %d unacknowledged", ci.Delivered.Stream, sent, ci.NumAckPending)
				}
				if wipe && inbox(t, rdb) < sent {
					return fmt.Errorf("%d of %d events handled again", inbox(t, rdb), sent)
				}
				return nil
			})
			after := readRegister(t, c, rdb)
			if after.outbox != before.outbox {
				t.Errorf("replay (inbox wiped: %v) published %d events", wipe, after.outbox-before.outbox)
			}
			for vendor, r := range before.risks {
				a := after.risks[vendor]
				if !proto.Equal(a, r) || len(after.history[vendor]) != len(before.history[vendor]) {
					t.Errorf("replay (inbox wiped: %v) changed the risk of %s:\n%v\nto\n%v", wipe, vendor, r, a)
				}
			}
			if len(after.risks) != len(before.risks) {
				t.Errorf("replay (inbox wiped: %v): %d vendor risks, want %d", wipe, len(after.risks), len(before.risks))
			}
		}
		replay(false)
		replay(true)

		// A newer assessment rated HIGH refreshes the vendor's risk: likelihood 4, with the
		// assessment as the cause of the change.
		name, ev = assessed("vendors/v01", "newest", tierOf(1), vendorsv1.RiskRating_HIGH, today)
		feed.publish(t, name, 2, ev)
		testkit.Eventually(t, 60*time.Second, func() error {
			r, err := c.GetRisk(context.Background(), &riskv1.GetRiskRequest{Name: before.risks["vendors/v01"].GetName()})
			if err != nil || r.GetResidual().GetLikelihood() != 4 {
				return fmt.Errorf("risk of vendors/v01 = %v, %v; want likelihood 4", r.GetResidual(), err)
			}
			return nil
		})
		h := readRegister(t, c, rdb).history["vendors/v01"]
		if len(h) != 2 || h[1].GetCause() != name || h[1].GetFromResidual().GetLikelihood() != 5 {
			t.Errorf("score history of vendors/v01 = %v; want a second change caused by %s", h, name)
		}
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expiring is vendor.attestation_expiring of attestation id of vendor, days before its expiry
// date, at the attestation's version.
func expiring(vendor, id string, days int32, expiry *date.Date, version int64) (string, *vendorsv1.VendorAttestationExpiring) {
	name := vendor + "/attestations/" + id
	return name, &vendorsv1.VendorAttestationExpiring{
		Attestation: &vendorsv1.Attestation{Name: name, Type: vendorsv1.Attestation_SOC2_TYPE_II, ExpiryDate: expiry},
		Vendor:      vendor, DaysBefore: days, ExpiryDate: expiry, Version: version,
	}
}

// TestAttestationExpiryRaisesVendorRisk: an attestation of a vendor with a risk expiring today
// (the 0-day reminder) raises the likelihood of the risk by one step, with the attestation as
// the cause and the reason in the score history; the 60-day reminder, a copy of the event, and
// the expiry of a vendor without a risk change nothing.
func TestAttestationExpiryRaisesVendorRisk(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		feed := newVendorsFeed(t, ns, js)
		svc, c := registerAlone(t, db, ns)
		rdb := svc.DB(t)
		handled := func(consumer string, want int) {
			t.Helper()
			waitHandled(t, rdb, consumer, want)
		}
		const attestations = "vendors-vendor-attestation_expiring"

		// A HIGH rating of a tier-2 vendor: likelihood 4, impact 4.
		name, ev := assessed("vendors/acme", "a1", 2, vendorsv1.RiskRating_HIGH, today.Add(-time.Hour))
		feed.publish(t, name, 2, ev)
		handled("vendors-assessment-completed", 1)
		rs, err := c.ListRisks(context.Background(), &riskv1.ListRisksRequest{Filter: `source = "vendors/acme"`})
		if err != nil || len(rs.GetRisks()) != 1 {
			t.Fatalf("risk of vendors/acme = %v, %v", rs, err)
		}
		rk := rs.GetRisks()[0]
		if rk.GetResidual().GetLikelihood() != 4 || rk.GetResidual().GetImpact() != 4 {
			t.Fatalf("risk of vendors/acme = %v; want 4 × 4", rk.GetResidual())
		}

		expiry := &date.Date{Year: 2026, Month: 9, Day: 15}
		soc2, early := expiring("vendors/acme", "soc2", 60, expiry, 2)
		feed.publish(t, soc2, 2, early)
		_, due := expiring("vendors/acme", "soc2", 0, expiry, 3)
		feed.publish(t, soc2, 3, due)
		// A copy published again (a new event ID, the same expiry), and a vendor without a risk.
		_, again := expiring("vendors/acme", "soc2", 0, expiry, 4)
		feed.publish(t, soc2, 4, again)
		other, none := expiring("vendors/globex", "iso", 0, expiry, 3)
		feed.publish(t, other, 3, none)
		handled(attestations, 4)

		got, err := c.GetRisk(context.Background(), &riskv1.GetRiskRequest{Name: rk.GetName()})
		if err != nil || got.GetResidual().GetLikelihood() != 5 || got.GetResidual().GetImpact() != 4 || got.GetInherent().GetLikelihood() != 5 {
			t.Fatalf("risk after the attestation expired = %v, %v; want likelihood 5 (inherent and residual)", got, err)
		}
		h, err := c.ListRiskScoreChanges(context.Background(), &riskv1.ListRiskScoreChangesRequest{Parent: rk.GetName()})
		if err != nil || len(h.GetRiskScoreChanges()) != 2 {
			t.Fatalf("score history = %v, %v; want the assessment and one raise", h, err)
		}
		raise := h.GetRiskScoreChanges()[1]
		if raise.GetCause() != soc2 || raise.GetActor() != "service:risk" || raise.GetFromResidual().GetLikelihood() != 4 ||
			raise.GetToResidual().GetLikelihood() != 5 || raise.GetReason() == "" {
			t.Errorf("the raise = %v; want 4 → 5 caused by %s, with a reason", raise, soc2)
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM risks WHERE source = 'vendors/globex'`)[0]; n != 0 {
			t.Errorf("an attestation expiry opened %d risks for a vendor without one", n)
		}
	})
}

// TestOffboardedVendorClosesItsRisk: vendor.offboarded closes the open risk of the vendor, with
// the offboarding as the reason; a copy of the event, a replay after a person reopened the risk,
// and the offboarding of a vendor without a risk change nothing.
func TestOffboardedVendorClosesItsRisk(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		feed := newVendorsFeed(t, ns, js)
		svc, c := registerAlone(t, db, ns)
		rdb := svc.DB(t)
		ctx := context.Background()
		handled := func(consumer string, want int) {
			t.Helper()
			waitHandled(t, rdb, consumer, want)
		}
		const offboardings = "vendors-vendor-offboarded"
		offboarded := func(vendor string, version int64) *vendorsv1.VendorOffboarded {
			return &vendorsv1.VendorOffboarded{Vendor: &vendorsv1.Vendor{Name: vendor, State: vendorsv1.Vendor_OFFBOARDED,
				StateReason: "contract ended"}, Version: version}
		}

		name, ev := assessed("vendors/acme", "a1", 2, vendorsv1.RiskRating_HIGH, today.Add(-time.Hour))
		feed.publish(t, name, 2, ev)
		handled("vendors-assessment-completed", 1)
		rs, err := c.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: `source = "vendors/acme"`})
		if err != nil || len(rs.GetRisks()) != 1 || rs.GetRisks()[0].GetState() == riskv1.Risk_CLOSED {
			t.Fatalf("risk of vendors/acme = %v, %v", rs, err)
		}
		rk := rs.GetRisks()[0]

		feed.publish(t, "vendors/acme", 5, offboarded("vendors/acme", 5))
		feed.publish(t, "vendors/globex", 5, offboarded("vendors/globex", 5))
		handled(offboardings, 2)
		got, err := c.GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()})
		if err != nil || got.GetState() != riskv1.Risk_CLOSED || !strings.Contains(got.GetStateReason(), "vendors/acme offboarded: contract ended") {
			t.Fatalf("risk after the offboarding = %v, %v; want CLOSED with the offboarding as the reason", got, err)
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1`, "%risk.closed")[0]; n != 1 {
			t.Errorf("RiskClosed events = %d; want 1", n)
		}

		// A person reopens the risk; a copy of the offboarding (a new event ID) leaves it open.
		if _, err := c.ReopenRisk(ctx, &riskv1.ReopenRiskRequest{Name: rk.GetName(), Reason: "successor still uses their data"}); err != nil {
			t.Fatal(err)
		}
		feed.publish(t, "vendors/acme", 5, offboarded("vendors/acme", 5))
		handled(offboardings, 3)
		if got, err := c.GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()}); err != nil || got.GetState() == riskv1.Risk_CLOSED {
			t.Errorf("risk after a copy of the offboarding = %v, %v; want it left open", got, err)
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM risks WHERE source = 'vendors/globex'`)[0]; n != 0 {
			t.Errorf("an offboarding opened %d risks for a vendor without one", n)
		}
	})
}

// TestRenamedSourceRetitlesItsRisk renames a vendor whose risk the register opened: the risk
// takes the new name, once per version of the name and in order, until a person retitles it. A
// vendor whose name is as long as a title gets its risk all the same, its title cut to fit. A
// team's key-person risk follows the team's name.
func TestRenamedSourceRetitlesItsRisk(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		feed := newVendorsFeed(t, ns, js)
		svc, c := registerAlone(t, db, ns)
		rdb := svc.DB(t)
		ctx := context.Background()
		handled := func(consumer string, want int) {
			t.Helper()
			waitHandled(t, rdb, consumer, want)
		}
		riskOf := func(vendor string) *riskv1.Risk {
			t.Helper()
			rs, err := c.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: `source = "` + vendor + `"`})
			if err != nil || len(rs.GetRisks()) != 1 {
				t.Fatalf("risks of %s = %v, %v; want one", vendor, rs, err)
			}
			return rs.GetRisks()[0]
		}
		const renames = "vendors-vendor-updated"
		updated := 0
		update := func(name string, version int64, fields ...string) {
			t.Helper()
			feed.publish(t, "vendors/contoso", version, &vendorsv1.VendorUpdated{
				Vendor:        &vendorsv1.Vendor{Name: "vendors/contoso", DisplayName: name, Tier: 2},
				ChangedFields: &fieldmaskpb.FieldMask{Paths: fields}, Version: version})
			updated++
			handled(renames, updated)
		}
		title := func(want string) {
			t.Helper()
			if got := riskOf("vendors/contoso").GetTitle(); got != want {
				t.Errorf("title %q; want %q", got, want)
			}
		}

		name, ev := assessed("vendors/contoso", "a1", 2, vendorsv1.RiskRating_HIGH, today.Add(-time.Hour))
		ev.VendorDisplayName = "Contoso Payroll"
		feed.publish(t, name, 2, ev)
		handled("vendors-assessment-completed", 1)
		title("Third-party risk: Contoso Payroll")

		update("Contoso HR", 3, "display_name")
		title("Third-party risk: Contoso HR")
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1`, "%risk.updated")[0]; n != 1 {
			t.Errorf("risk.updated events after the rename = %d; want 1", n)
		}
		update("Contoso HR", 4, "tier")               // not a rename
		update("Contoso Old Name", 2, "display_name") // older than the name applied
		title("Third-party risk: Contoso HR")
		// Past the consumer's version marks (pruned, or a replay into a new consumer), the
		// register's own position of the name holds.
		if _, err := rdb.ExecContext(ctx, `DELETE FROM consumer_versions WHERE consumer = $1`, renames); err != nil {
			t.Fatal(err)
		}
		update("Contoso Old Name", 2, "display_name")
		title("Third-party risk: Contoso HR")

		// A person's title stays through later renames.
		rk := riskOf("vendors/contoso")
		if _, err := c.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: rk.GetName(), Title: "Payroll outsourcing"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
			t.Fatal(err)
		}
		update("Contoso Group", 5, "display_name")
		title("Payroll outsourcing")

		// A name as long as a title (200 characters): the risk opens, its title cut to 200.
		long := strings.Repeat("Globex ", 29)[:200]
		name, ev = assessed("vendors/globex", "g1", 1, vendorsv1.RiskRating_CRITICAL, today.Add(-time.Hour))
		ev.VendorDisplayName = long
		feed.publish(t, name, 2, ev)
		handled("vendors-assessment-completed", 2)
		got := riskOf("vendors/globex").GetTitle()
		if utf8.RuneCountInString(got) != 200 || !strings.HasPrefix(got, "Third-party risk: Globex") || !strings.HasSuffix(got, "…") {
			t.Errorf("title of the long-named vendor's risk: %q (%d characters); want it cut to 200, ending with …", got, utf8.RuneCountInString(got))
		}

		// A team's key-person risk follows the team's name the same way.
		talent := newFeed(t, ns, js, "talent")
		talent.publish(t, "teams/platform/skillRequirements/go", 1, &talentv1.SkillKeyPersonRisk{
			Coverage: &talentv1.SkillCoverage{Team: "teams/platform", Skill: "skills/go", MinProficiency: 3, RequiredPeople: 2,
				CoveredPeople: 1, KeyPersonRisk: true, KeyPerson: "people/ada"},
			SkillRequirement: "teams/platform/skillRequirements/go", Version: 1, TeamDisplayName: "Platform"})
		handled("talent-skill-key_person_risk", 1)
		if got := riskOf("teams/platform").GetTitle(); got != "Key-person risk: Platform" {
			t.Fatalf("team risk titled %q", got)
		}
		talent.publish(t, "teams/platform", 2, &talentv1.TeamUpdated{Team: &talentv1.Team{Name: "teams/platform", DisplayName: "Platform Engineering"},
			ChangedFields: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}, Version: 2})
		handled("talent-team-updated", 1)
		if got := riskOf("teams/platform").GetTitle(); got != "Key-person risk: Platform Engineering" {
			t.Errorf("team risk after the team's rename titled %q; want the new name", got)
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM consumer_dead_letters`)[0]; n != 0 {
			t.Errorf("%d dead letters; want none", n)
		}
	})
}
