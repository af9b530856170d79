package vendors_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// clockEnv is a running vendors service on a fake clock, with a connection to its database.
type clockEnv struct {
	*env
	clock *clock.Fake
	db    *sqldb.DB
}

// startAt runs the vendors service on db with its clock (and its scheduler's) at now.
func startAt(t *testing.T, db testenv.Database, now time.Time) *clockEnv {
	t.Helper()
	fake := clock.NewFake(now)
	s := testkit.Start(t, db, vendors.Service(), testkit.WithHostOptions(func(o *host.Options) {
		o.Peers = map[string]string{"budget": "127.0.0.1:1"}
		o.Clock = fake
		o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
	}))
	e := &env{Service: s, client: vendorsv1.NewVendorsServiceClient(s.Conn)}
	return &clockEnv{env: e, clock: fake, db: e.DB(t)}
}

// outboxCount counts the events in the outbox whose subject ends with suffix
// (".vendors.vendor.created").
func outboxCount(t *testing.T, db *sqldb.DB, suffix string) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1`, "%"+suffix)[0]
}

func acme(display string, tier int32) *vendorsv1.Vendor {
	return &vendorsv1.Vendor{DisplayName: display, LegalName: display + " GmbH", Category: vendorsv1.Vendor_SAAS, Tier: tier}
}

func mustVendor(t *testing.T, e *clockEnv, id string, v *vendorsv1.Vendor) *vendorsv1.Vendor {
	t.Helper()
	out, err := e.client.CreateVendor(context.Background(), &vendorsv1.CreateVendorRequest{VendorId: id, Vendor: v})
	if err != nil {
		t.Fatalf("create vendor %s: %v", id, err)
	}
	return out
}

var dec4 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func TestVendorCRUD(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		in := acme("Acme Cloud", 2)
		in.Country, in.Website, in.Owner = "DE", "https://acme.example", "people/ada"
		in.Contacts = []*vendorsv1.Contact{{DisplayName: "Bob", Email: "bob@acme.example", Role: "account manager"}}
		in.State = vendorsv1.Vendor_ACTIVE // output only: ignored
		v := mustVendor(t, e, "acme", in)
		if v.GetName() != "vendors/acme" || v.GetState() != vendorsv1.Vendor_PROSPECT || v.GetDataAccess() != vendorsv1.DataAccess_NONE ||
			v.GetRiskRating() != vendorsv1.RiskRating_RISK_RATING_UNSPECIFIED || v.GetEtag() == "" ||
			!v.GetCreateTime().AsTime().Equal(dec4) || !v.GetStateChangeTime().AsTime().Equal(dec4) ||
			len(v.GetContacts()) != 1 || v.GetContacts()[0].GetEmail() != "bob@acme.example" {
			t.Errorf("created %v; want a PROSPECT vendors/acme with data access NONE, unrated, created now", v)
		}
		got, err := e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/acme"})
		if err != nil || got.GetEtag() != v.GetEtag() || got.GetLegalName() != "Acme Cloud GmbH" {
			t.Errorf("GetVendor = %v, %v; want the created vendor", got, err)
		}
		_, err = e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/nobody"})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		_, err = e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: "acme", Vendor: acme("Again", 3)})
		e.AssertStatus(t, err, codes.AlreadyExists, "VENDOR_ALREADY_EXISTS")

		// A server-assigned ID.
		auto := mustVendor(t, e, "", acme("Auto", 4))
		if len(auto.GetName()) < len("vendors/")+30 {
			t.Errorf("server-assigned name %q; want vendors/{uuid}", auto.GetName())
		}

		// Update by mask; a stale etag is ABORTED.
		e.clock.Advance(time.Hour)
		up, err := e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor:     &vendorsv1.Vendor{Name: "vendors/acme", Tier: 1, Description: "ignored", Etag: v.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tier"}}})
		if err != nil || up.GetTier() != 1 || up.GetDescription() != "" || up.GetEtag() == v.GetEtag() ||
			!up.GetUpdateTime().AsTime().Equal(dec4.Add(time.Hour)) {
			t.Fatalf("UpdateVendor tier = %v, %v; want tier 1 only, a new etag", up, err)
		}
		_, err = e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor: &vendorsv1.Vendor{Name: "vendors/acme", Tier: 3, Etag: v.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tier"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor: &vendorsv1.Vendor{Name: "vendors/acme"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")
		// Clearing a required field by mask is a field violation.
		_, err = e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor: &vendorsv1.Vendor{Name: "vendors/acme"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "vendor.display_name")

		// Events: created twice, updated once.
		if n := outboxCount(t, e.db, ".vendors.vendor.created"); n != 2 {
			t.Errorf("%d vendor.created events; want 2", n)
		}
		if n := outboxCount(t, e.db, ".vendors.vendor.updated"); n != 1 {
			t.Errorf("%d vendor.updated events; want 1", n)
		}

		// Delete a prospect; the second delete is NOT_FOUND.
		if _, err := e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: auto.GetName(), Etag: auto.GetEtag()}); err != nil {
			t.Fatalf("DeleteVendor: %v", err)
		}
		_, err = e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: auto.GetName()})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		if n := outboxCount(t, e.db, ".vendors.vendor.deleted"); n != 1 {
			t.Errorf("%d vendor.deleted events; want 1", n)
		}
	})
}

func TestVendorValidation(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		_, err := e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: &vendorsv1.Vendor{DisplayName: "  "}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
			"vendor.display_name", "vendor.legal_name", "vendor.category", "vendor.tier")
		_, err = e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: &vendorsv1.Vendor{DisplayName: "X", LegalName: "X", Category: 1, Tier: 5}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "vendor.tier")
		bad := acme("Bad", 3)
		bad.Country = "de"
		_, err = e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: bad})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "vendor.country")

		// The parent must exist.
		child := acme("Child", 3)
		child.ParentVendor = "vendors/nobody"
		_, err = e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: "child", Vendor: child})
		e.AssertStatus(t, err, codes.InvalidArgument, "PARENT_VENDOR_NOT_FOUND", "vendor.parent_vendor")
		// So must a sub-processor that names a vendor.
		subs := acme("Subs", 3)
		subs.SubProcessors = []*vendorsv1.SubProcessor{{DisplayName: "Hosting"}, {DisplayName: "Mail", Vendor: "vendors/nobody"}}
		_, err = e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: "subs", Vendor: subs})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "vendor.sub_processors[1].vendor")

		// A chain parent ← mid ← leaf; mid's parent cannot become leaf (a cycle), nor itself.
		mustVendor(t, e, "parent", acme("Parent", 2))
		mid := acme("Mid", 3)
		mid.ParentVendor = "vendors/parent"
		mustVendor(t, e, "mid", mid)
		leaf := acme("Leaf", 3)
		leaf.ParentVendor = "vendors/mid"
		leaf.SubProcessors = []*vendorsv1.SubProcessor{{DisplayName: "Parent Hosting", Vendor: "vendors/parent", DataAccess: vendorsv1.DataAccess_CONFIDENTIAL}}
		l := mustVendor(t, e, "leaf", leaf)
		if l.GetParentVendor() != "vendors/mid" || l.GetSubProcessors()[0].GetVendor() != "vendors/parent" {
			t.Errorf("leaf %v; want parent vendors/mid, sub-processor vendors/parent", l)
		}
		for _, p := range []string{"vendors/leaf", "vendors/mid"} {
			_, err = e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
				Vendor: &vendorsv1.Vendor{Name: "vendors/parent", ParentVendor: p}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_vendor"}}})
			e.AssertStatus(t, err, codes.InvalidArgument, "PARENT_VENDOR_CYCLE", "vendor.parent_vendor")
		}
		_, err = e.client.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor: &vendorsv1.Vendor{Name: "vendors/mid", ParentVendor: "vendors/mid"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"parent_vendor"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "PARENT_VENDOR_CYCLE", "vendor.parent_vendor")

		// A parent, or a vendor named as a sub-processor, cannot be deleted.
		_, err = e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: "vendors/mid"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_IN_USE")
		_, err = e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: "vendors/parent"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_IN_USE")
		if _, err := e.client.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: "vendors/leaf"}); err != nil {
			t.Errorf("delete the leaf: %v", err)
		}
	})
}

// setAssessment stands for a completed assessment: it sets the columns the assessments keep on
// the vendor directly, so that a test can put the end of its validity on any day (yesterday,
// today) without completing one and moving the clock a year. TestAssessmentLifecycle activates a
// tier-1 vendor through a real completion.
func setAssessment(t *testing.T, db *sqldb.DB, vendorID string, rating vendorsv1.RiskRating, validUntil string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `UPDATE vendors SET latest_assessment_id = 'a1', latest_risk_rating = $2,
		assessment_valid_until = $3 WHERE id = $1`, vendorID, int32(rating), validUntil); err != nil {
		t.Fatal(err)
	}
}

func TestVendorLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		approver := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/approver", "vendors.read", "vendors.approve"))
		writer := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/writer", "vendors.read", "vendors.write"))
		v := mustVendor(t, e, "acme", acme("Acme", 1))

		// Only a PROSPECT starts onboarding; a writer may.
		_, err := approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		on, err := writer.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: v.GetName(), Etag: v.GetEtag(), Reason: "RFP won"})
		if err != nil || on.GetState() != vendorsv1.Vendor_ONBOARDING || on.GetStateReason() != "RFP won" {
			t.Fatalf("StartVendorOnboarding = %v, %v; want ONBOARDING", on, err)
		}
		_, err = writer.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		// Activating is an approval.
		_, err = writer.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.PermissionDenied, "MISSING_SCOPE")

		// Tier 1 without an assessment: refused, naming the tier.
		_, err = approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_REQUIRED")
		if err == nil || !containsAll(err.Error(), "tier 1") {
			t.Errorf("refusal %v; want it to name tier 1", err)
		}
		// An assessment that expired yesterday is no better.
		setAssessment(t, e.db, "acme", vendorsv1.RiskRating_MEDIUM, "2026-12-03")
		_, err = approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "ASSESSMENT_REQUIRED")
		if g, _ := e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: v.GetName()}); g.GetRiskRating() != vendorsv1.RiskRating_RISK_RATING_UNSPECIFIED ||
			g.GetLatestAssessment() != "vendors/acme/assessments/a1" || dateOf(g) != "2026-12-03" {
			t.Errorf("vendor with an expired assessment %v; want it unrated", g)
		}
		// Valid through today: allowed, and the rating shows.
		setAssessment(t, e.db, "acme", vendorsv1.RiskRating_MEDIUM, "2026-12-04")
		act, err := approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
		if err != nil || act.GetState() != vendorsv1.Vendor_ACTIVE || act.GetRiskRating() != vendorsv1.RiskRating_MEDIUM || act.GetStateReason() != "" {
			t.Fatalf("ActivateVendor = %v, %v; want ACTIVE rated MEDIUM", act, err)
		}
		// The next day the assessment has expired: the rating is gone.
		e.clock.Set(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
		if g, _ := e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: v.GetName()}); g.GetRiskRating() != vendorsv1.RiskRating_RISK_RATING_UNSPECIFIED {
			t.Errorf("rating a day after the assessment expired: %v; want unrated", g.GetRiskRating())
		}

		// Suspend and reinstate need a reason.
		_, err = approver.SuspendVendor(ctx, &vendorsv1.SuspendVendorRequest{Name: v.GetName(), Reason: " "})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason")
		_, err = approver.ReinstateVendor(ctx, &vendorsv1.ReinstateVendorRequest{Name: v.GetName(), Reason: "not suspended"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		sus, err := approver.SuspendVendor(ctx, &vendorsv1.SuspendVendorRequest{Name: v.GetName(), Reason: "breach", RequestId: "6f1c2a34-1b7e-4c0e-9f51-1d2a3b4c5d6e"})
		if err != nil || sus.GetState() != vendorsv1.Vendor_SUSPENDED || sus.GetStateReason() != "breach" {
			t.Fatalf("SuspendVendor = %v, %v; want SUSPENDED for breach", sus, err)
		}
		// A retry with the request ID answers the first call's result.
		again, err := approver.SuspendVendor(ctx, &vendorsv1.SuspendVendorRequest{Name: v.GetName(), Reason: "breach", RequestId: "6f1c2a34-1b7e-4c0e-9f51-1d2a3b4c5d6e"})
		if err != nil || again.GetEtag() != sus.GetEtag() {
			t.Errorf("retried SuspendVendor = %v, %v; want the first result", again, err)
		}
		_, err = approver.SuspendVendor(ctx, &vendorsv1.SuspendVendorRequest{Name: v.GetName(), Reason: "again", Etag: act.GetEtag()})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		re, err := approver.ReinstateVendor(ctx, &vendorsv1.ReinstateVendorRequest{Name: v.GetName(), Reason: "fixed", Etag: sus.GetEtag()})
		if err != nil || re.GetState() != vendorsv1.Vendor_ACTIVE || re.GetStateReason() != "fixed" {
			t.Fatalf("ReinstateVendor = %v, %v; want ACTIVE", re, err)
		}

		// Only a PROSPECT can be deleted.
		_, err = writer.DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_NOT_PROSPECT")

		// Offboarding is final; an offboarded vendor cannot be changed.
		_, err = approver.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: v.GetName()})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason")
		off, err := approver.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: v.GetName(), Reason: "contract ended"})
		if err != nil || off.GetState() != vendorsv1.Vendor_OFFBOARDED {
			t.Fatalf("OffboardVendor = %v, %v; want OFFBOARDED", off, err)
		}
		_, err = approver.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: v.GetName(), Reason: "twice"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = writer.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{Vendor: &vendorsv1.Vendor{Name: v.GetName(), Description: "x"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_OFFBOARDED")

		// A tier-3 vendor needs no assessment; a prospect can be offboarded directly.
		small := mustVendor(t, e, "small", acme("Small", 3))
		if _, err := writer.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: small.GetName()}); err != nil {
			t.Fatal(err)
		}
		if a, err := approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: small.GetName()}); err != nil || a.GetState() != vendorsv1.Vendor_ACTIVE {
			t.Errorf("activate tier 3 without an assessment = %v, %v; want ACTIVE", a, err)
		}
		mustVendor(t, e, "prospect", acme("Prospect", 2))
		if _, err := approver.OffboardVendor(ctx, &vendorsv1.OffboardVendorRequest{Name: "vendors/prospect", Reason: "not pursued"}); err != nil {
			t.Errorf("offboard a prospect: %v", err)
		}

		// One event per transition, each with the vendor's version.
		for suffix, want := range map[string]int{"onboarding_started": 2, "onboarded": 2, "suspended": 1, "reinstated": 1, "offboarded": 2} {
			if n := outboxCount(t, e.db, ".vendors.vendor."+suffix); n != want {
				t.Errorf("%d vendor.%s events; want %d", n, suffix, want)
			}
		}
	})
}

func TestListVendors(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startAt(t, db, dec4)
		ctx := context.Background()
		for i := range 7 {
			v := acme(fmt.Sprintf("Vendor %d", 7-i), int32(i%4+1))
			if i%2 == 0 {
				v.Country = "DE"
			}
			mustVendor(t, e, fmt.Sprintf("v%d", i), v)
		}
		setAssessment(t, e.db, "v1", vendorsv1.RiskRating_HIGH, "2027-01-01")
		setAssessment(t, e.db, "v2", vendorsv1.RiskRating_HIGH, "2026-01-01") // expired
		list := func(filter, order string, size int32) []string {
			t.Helper()
			var names []string
			items, _ := testkit.AllPages(t, func(token string) ([]*vendorsv1.Vendor, string, error) {
				r, err := e.client.ListVendors(ctx, &vendorsv1.ListVendorsRequest{Filter: filter, OrderBy: order, PageSize: size, PageToken: token})
				return r.GetVendors(), r.GetNextPageToken(), err
			})
			for _, v := range items {
				names = append(names, v.GetName()[len("vendors/"):])
			}
			return names
		}
		for _, c := range []struct {
			filter, order string
			want          string
		}{
			{"", "", "[v0 v1 v2 v3 v4 v5 v6]"},
			{"tier <= 2 AND country = \"DE\"", "", "[v0 v4]"},
			{"tier <= 2", "tier desc, display_name", "[v5 v1 v4 v0]"},
			{"state = PROSPECT AND country != \"DE\"", "display_name desc", "[v1 v3 v5]"},
			{"risk_rating = HIGH", "", "[v1]"},
			{"assessment_valid_until < \"2026-06-01\"", "", "[v2]"},
			{"parent_vendor = null", "display_name", "[v6 v5 v4 v3 v2 v1 v0]"},
		} {
			if got := fmt.Sprint(list(c.filter, c.order, 2)); got != c.want {
				t.Errorf("list filter %q order %q = %s; want %s", c.filter, c.order, got, c.want)
			}
		}
		_, err := e.client.ListVendors(ctx, &vendorsv1.ListVendorsRequest{Filter: "website = \"x\""})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")
		_, err = e.client.ListVendors(ctx, &vendorsv1.ListVendorsRequest{OrderBy: "website"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "order_by")
	})
}

func dateOf(v *vendorsv1.Vendor) string {
	d := v.GetAssessmentValidUntil()
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !contains(s, sub) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
