package vendors_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	datepb "google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

func ymd(y, m, d int) *datepb.Date {
	return &datepb.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func mustAttestation(t *testing.T, e *clockEnv, vendor, id string, a *vendorsv1.Attestation) *vendorsv1.Attestation {
	t.Helper()
	out, err := e.client.CreateAttestation(context.Background(), &vendorsv1.CreateAttestationRequest{Parent: vendor, AttestationId: id, Attestation: a})
	if err != nil {
		t.Fatalf("create attestation %s/%s: %v", vendor, id, err)
	}
	return out
}

func TestAttestations(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		mustVendor(t, e, "acme", acme("Acme", 2))
		mustVendor(t, e, "beta", acme("Beta", 3))

		// Status on 2026-12-04: EXPIRING from 60 days before the expiry date through that date.
		for _, c := range []struct {
			id     string
			expiry *datepb.Date
			want   vendorsv1.Attestation_Status
		}{
			{"valid", ymd(2027, 2, 3), vendorsv1.Attestation_VALID},      // 61 days ahead
			{"edge", ymd(2027, 2, 2), vendorsv1.Attestation_EXPIRING},    // 60 days ahead
			{"today", ymd(2026, 12, 4), vendorsv1.Attestation_EXPIRING},  // expires today
			{"expired", ymd(2026, 12, 3), vendorsv1.Attestation_EXPIRED}, // expired yesterday
		} {
			a := mustAttestation(t, e, "vendors/acme", c.id, &vendorsv1.Attestation{Type: vendorsv1.Attestation_ISO_27001,
				IssueDate: ymd(2024, 1, 1), ExpiryDate: c.expiry, Issuer: "TÜV", DocumentUri: "https://docs.example/" + c.id})
			if a.GetStatus() != c.want || a.GetName() != "vendors/acme/attestations/"+c.id || a.GetEtag() == "" {
				t.Errorf("attestation %s: %v; want status %v", c.id, a, c.want)
			}
		}
		got, err := e.client.GetAttestation(ctx, &vendorsv1.GetAttestationRequest{Name: "vendors/acme/attestations/edge"})
		if err != nil || got.GetIssuer() != "TÜV" || got.GetStatus() != vendorsv1.Attestation_EXPIRING {
			t.Errorf("GetAttestation = %v, %v", got, err)
		}
		// The next day "today" has expired and "valid" is expiring: the status is computed on read.
		e.clock.Set(time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC))
		for id, want := range map[string]vendorsv1.Attestation_Status{"today": vendorsv1.Attestation_EXPIRED, "valid": vendorsv1.Attestation_EXPIRING} {
			if g, err := e.client.GetAttestation(ctx, &vendorsv1.GetAttestationRequest{Name: "vendors/acme/attestations/" + id}); err != nil || g.GetStatus() != want {
				t.Errorf("%s a day later: %v, %v; want %v", id, g.GetStatus(), err, want)
			}
		}

		// Validation.
		_, err = e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_OTHER}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "attestation.display_name", "attestation.expiry_date")
		_, err = e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, IssueDate: ymd(2027, 1, 1), ExpiryDate: ymd(2027, 1, 1)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "attestation.expiry_date")
		_, err = e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, ExpiryDate: ymd(2027, 2, 30)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "DATE_INVALID", "attestation.expiry_date")
		_, err = e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/nobody",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, ExpiryDate: ymd(2027, 2, 1)}})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		_, err = e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme", AttestationId: "edge",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, ExpiryDate: ymd(2027, 2, 1)}})
		e.AssertStatus(t, err, codes.AlreadyExists, "ATTESTATION_ALREADY_EXISTS")
		other := mustAttestation(t, e, "vendors/beta", "", &vendorsv1.Attestation{Type: vendorsv1.Attestation_OTHER,
			DisplayName: "CSA STAR Level 2", ExpiryDate: ymd(2028, 1, 1)})

		// Update by mask, with etags.
		_, err = e.client.UpdateAttestation(ctx, &vendorsv1.UpdateAttestationRequest{
			Attestation: &vendorsv1.Attestation{Name: "vendors/acme/attestations/valid", Issuer: "BSI", Etag: "W/\"stale\""},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"issuer"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		up, err := e.client.UpdateAttestation(ctx, &vendorsv1.UpdateAttestationRequest{
			Attestation: &vendorsv1.Attestation{Name: "vendors/acme/attestations/valid", Issuer: "BSI"},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"issuer"}}})
		if err != nil || up.GetIssuer() != "BSI" || up.GetDocumentUri() != "https://docs.example/valid" {
			t.Errorf("UpdateAttestation issuer = %v, %v", up, err)
		}
		_, err = e.client.UpdateAttestation(ctx, &vendorsv1.UpdateAttestationRequest{
			Attestation: &vendorsv1.Attestation{Name: "vendors/acme/attestations/valid", ExpiryDate: ymd(2023, 1, 1)},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"expiry_date"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "attestation.expiry_date")

		// Lists: of a vendor, across vendors, filtered by the computed status, ordered by expiry.
		list := func(parent, filter, order string) string {
			t.Helper()
			items, _ := testkit.AllPages(t, func(token string) ([]*vendorsv1.Attestation, string, error) {
				r, err := e.client.ListAttestations(ctx, &vendorsv1.ListAttestationsRequest{Parent: parent, Filter: filter, OrderBy: order, PageSize: 2, PageToken: token})
				return r.GetAttestations(), r.GetNextPageToken(), err
			})
			var names []string
			for _, a := range items {
				names = append(names, a.GetName())
			}
			return fmt.Sprint(names)
		}
		for _, c := range []struct{ parent, filter, order, want string }{
			{"vendors/acme", "", "", "[vendors/acme/attestations/edge vendors/acme/attestations/expired vendors/acme/attestations/today vendors/acme/attestations/valid]"},
			{"vendors/-", "status = EXPIRED", "expiry_date desc", "[vendors/acme/attestations/today vendors/acme/attestations/expired]"},
			{"vendors/-", "status != EXPIRED", "expiry_date", "[vendors/acme/attestations/edge vendors/acme/attestations/valid " + other.GetName() + "]"},
			{"vendors/-", "type = OTHER", "", "[" + other.GetName() + "]"},
			{"vendors/-", "", "type desc, expiry_date", "[" + other.GetName() + " vendors/acme/attestations/expired vendors/acme/attestations/today " +
				"vendors/acme/attestations/edge vendors/acme/attestations/valid]"},
			{"vendors/-", "vendor = \"vendors/beta\" OR issuer = \"BSI\"", "", "[vendors/acme/attestations/valid " + other.GetName() + "]"},
		} {
			if got := list(c.parent, c.filter, c.order); got != c.want {
				t.Errorf("list %s filter %q order %q = %s; want %s", c.parent, c.filter, c.order, got, c.want)
			}
		}

		// Delete; deleting a prospect vendor deletes its attestations with it.
		if _, err := e.client.DeleteAttestation(ctx, &vendorsv1.DeleteAttestationRequest{Name: "vendors/acme/attestations/expired"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetAttestation(ctx, &vendorsv1.GetAttestationRequest{Name: "vendors/acme/attestations/expired"})
		e.AssertStatus(t, err, codes.NotFound, "ATTESTATION_NOT_FOUND")
		if _, err := e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: "vendors/acme"}); err != nil {
			t.Fatal(err)
		}
		if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM attestations WHERE vendor_id = 'acme'`)[0]; n != 0 {
			t.Errorf("%d attestations of the deleted vendor; want 0", n)
		}
		if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM scheduled_items WHERE resource_name LIKE 'vendors/acme/%' AND fired_at IS NULL`)[0]; n != 0 {
			t.Errorf("%d pending reminders of the deleted vendor's attestations; want 0", n)
		}
		for suffix, want := range map[string]int{"attestation.recorded": 5, "attestation.updated": 1, "attestation.deleted": 1} {
			if n := outboxCount(t, e.db, ".vendors."+suffix); n != want {
				t.Errorf("%d %s events; want %d", n, suffix, want)
			}
		}
	})
}

// waitAsleep waits until the service's scheduler has done what was due and sleeps until due.
func waitAsleep(t *testing.T, c *clock.Fake, due time.Time) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(c.Waits(), due.Equal) {
			return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, c.Waits())
		}
		return nil
	})
}

// expiringEvents waits until e's stream holds n vendor.attestation_expiring events and returns
// them in order.
func expiringEvents(t *testing.T, e *clockEnv, n int) []*vendorsv1.VendorAttestationExpiring {
	t.Helper()
	ctx := context.Background()
	subject := e.Subject("vendor.attestation_expiring")
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
			return fmt.Errorf("%d attestation_expiring events on NATS; want %d", got, n)
		}
		return nil
	})
	var out []*vendorsv1.VendorAttestationExpiring
	cons, err := e.JetStream.OrderedConsumer(ctx, e.Stream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		var ev vendorsv1.VendorAttestationExpiring
		if err := protojson.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, &ev)
	}
	if len(out) != n {
		t.Fatalf("read %d attestation_expiring events; want %d", len(out), n)
	}
	return out
}

func checkExpiring(t *testing.T, ev *vendorsv1.VendorAttestationExpiring, name string, days int32, due, fired time.Time) {
	t.Helper()
	if ev.GetAttestation().GetName() != name || ev.GetVendor() != "vendors/acme" || ev.GetDaysBefore() != days ||
		ev.GetAttestation().GetStatus() != vendorsv1.Attestation_EXPIRING ||
		!ev.GetDueTime().AsTime().Equal(due) || !ev.GetFireTime().AsTime().Equal(fired) {
		t.Errorf("event %v; want %s, %d days before, EXPIRING, due %v, fired %v", ev, name, days, due, fired)
	}
}

// TestAttestationReminders moves the clock over an attestation's expiry reminders: each fires
// once, at the start of its day; an update of the expiry date moves them; a delete and an
// offboarding cancel them.
func TestAttestationReminders(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		st := store.New(e.db, nil)
		mustVendor(t, e, "acme", acme("Acme", 2))
		const name = "vendors/acme/attestations/soc2"
		a := mustAttestation(t, e, "vendors/acme", "soc2", &vendorsv1.Attestation{Type: vendorsv1.Attestation_SOC2_TYPE_II, ExpiryDate: ymd(2027, 3, 15)})
		// Expiring 2027-03-15: reminders on 2027-01-14 (60 days before) and 2027-03-15.
		jan14, mar15 := utc(2027, 1, 14), utc(2027, 3, 15)
		for days, due := range map[int]time.Time{60: jan14, 0: mar15} {
			if s, err := st.AttestationReminder(ctx, name, days); err != nil || !s.Due.Equal(due) || s.Kind != store.AttestationExpiringKind {
				t.Fatalf("reminder %d days before: %+v, %v; want due %v", days, s, err, due)
			}
		}
		// Moving the expiry date to 2027-04-30 moves them: 2027-03-01 and 2027-04-30.
		if _, err := e.client.UpdateAttestation(ctx, &vendorsv1.UpdateAttestationRequest{
			Attestation: &vendorsv1.Attestation{Name: name, ExpiryDate: ymd(2027, 4, 30), Etag: a.GetEtag()},
			UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"expiry_date"}}}); err != nil {
			t.Fatal(err)
		}
		mar1, apr30 := utc(2027, 3, 1), utc(2027, 4, 30)
		for days, due := range map[int]time.Time{60: mar1, 0: apr30} {
			if s, err := st.AttestationReminder(ctx, name, days); err != nil || !s.Due.Equal(due) || !s.Fired.IsZero() {
				t.Fatalf("reminder %d days before after the update: %+v, %v; want due %v", days, s, err, due)
			}
		}
		// A second attestation, deleted: its reminders go with it.
		mustAttestation(t, e, "vendors/acme", "iso", &vendorsv1.Attestation{Type: vendorsv1.Attestation_ISO_27001, ExpiryDate: ymd(2027, 3, 20)})
		if _, err := e.client.DeleteAttestation(ctx, &vendorsv1.DeleteAttestationRequest{Name: "vendors/acme/attestations/iso"}); err != nil {
			t.Fatal(err)
		}
		for _, days := range []int{60, 0} {
			if s, err := st.AttestationReminder(ctx, "vendors/acme/attestations/iso", days); !errors.Is(err, scheduler.ErrNotFound) {
				t.Errorf("reminder of a deleted attestation: %+v, %v; want none", s, err)
			}
		}

		// Nothing fires before its day: the old 14 January date no longer applies.
		waitAsleep(t, e.clock, mar1)
		e.clock.Set(utc(2027, 1, 20))
		waitAsleep(t, e.clock, mar1)
		if n := outboxCount(t, e.db, ".vendors.vendor.attestation_expiring"); n != 0 {
			t.Fatalf("%d reminders before 1 March; want none", n)
		}
		// 1 March, 00:00: the 60-day reminder, once.
		e.clock.Set(mar1)
		ev := expiringEvents(t, e, 1)[0]
		checkExpiring(t, ev, name, 60, mar1, mar1)
		if ev.GetAttestation().GetEtag() == a.GetEtag() || dateString(ev.GetExpiryDate()) != "2027-04-30" {
			t.Errorf("event %v; want the attestation's new version and its expiry date", ev)
		}
		waitAsleep(t, e.clock, apr30)
		// The expiry date, fired 6 hours late (the service was down): once.
		late := apr30.Add(6 * time.Hour)
		e.clock.Set(late)
		evs := expiringEvents(t, e, 2)
		checkExpiring(t, evs[1], name, 0, apr30, late)
		if evs[1].GetVersion() <= evs[0].GetVersion() {
			t.Errorf("versions %d then %d; want increasing", evs[0].GetVersion(), evs[1].GetVersion())
		}
		// Both reminders are marked fired, at their times: later days bring nothing more.
		e.clock.Set(utc(2027, 6, 1))
		for days, fired := range map[int]time.Time{60: mar1, 0: late} {
			if s, err := st.AttestationReminder(ctx, name, days); err != nil || !s.Fired.Equal(fired) || s.Attempts != 1 {
				t.Errorf("reminder %d days before: %+v, %v; want fired once at %v", days, s, err, fired)
			}
		}
		if n := outboxCount(t, e.db, ".vendors.vendor.attestation_expiring"); n != 2 {
			t.Errorf("%d reminders in all; want exactly 2", n)
		}

		// Offboarding cancels the reminders of the vendor's attestations.
		mustAttestation(t, e, "vendors/acme", "pci", &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, ExpiryDate: ymd(2028, 6, 1)})
		if s, err := st.AttestationReminder(ctx, "vendors/acme/attestations/pci", 60); err != nil || !s.Fired.IsZero() {
			t.Fatalf("reminder of pci: %+v, %v; want one pending", s, err)
		}
		if _, err := e.client.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: "vendors/acme", Reason: "ended"}); err != nil {
			t.Fatal(err)
		}
		for _, days := range []int{60, 0} {
			if s, err := st.AttestationReminder(ctx, "vendors/acme/attestations/pci", days); !errors.Is(err, scheduler.ErrNotFound) {
				t.Errorf("reminder of an offboarded vendor's attestation: %+v, %v; want none", s, err)
			}
		}
		// And an offboarded vendor gets no new attestations.
		_, err := e.client.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: "vendors/acme",
			Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_PCI_DSS, ExpiryDate: ymd(2029, 1, 1)}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_OFFBOARDED")
	})
}
