package vendors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// env is a running vendors service and a client of it calling with every scope.
type env struct {
	*testkit.Service
	client vendorsv1.VendorsServiceClient
}

// start runs the vendors service on db with default settings. Its peer, budget, is given an
// address nobody listens on: a peer is dialled on first use, so only the calls that need budget
// would fail.
func start(t *testing.T, db testenv.Database) *env {
	t.Helper()
	s := testkit.Start(t, db, vendors.Service(), testkit.WithHostOptions(func(o *host.Options) {
		o.Peers = map[string]string{"budget": "127.0.0.1:1"}
	}))
	return &env{Service: s, client: vendorsv1.NewVendorsServiceClient(s.Conn)}
}

// TestSkeletonServes starts the service on every engine: it is migrated (its tables exist),
// and authorizes and validates calls through the real interceptors.
func TestSkeletonServes(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		for _, table := range []string{"vendors", "attestations"} {
			if n := testkit.Column[int](t, e.DB(t), `SELECT COUNT(*) FROM `+table)[0]; n != 0 {
				t.Errorf("%s has %d rows, want 0", table, n)
			}
		}
		_, err := e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/acme"})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")
		// Validation comes first: a malformed name is INVALID_ARGUMENT, not NOT_FOUND.
		_, err = e.client.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/Not_An_ID"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
		// Authorization comes before both: a caller without vendors.approve cannot approve.
		reader := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/reader", "vendors.read"))
		_, err = reader.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: "vendors/acme/contracts/c-1"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("ApproveContract with vendors.read only = %v; want PERMISSION_DENIED", err)
		}
	})
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	if err := vendors.DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// DefaultSettings says what the programs read when nothing is set.
	var loaded vendors.Settings
	if _, err := config.Load(&loaded, config.Options{Program: "test", Env: func(string) (string, bool) { return "", false }}); err != nil {
		t.Fatal(err)
	}
	if loaded != vendors.DefaultSettings() {
		t.Errorf("settings read with nothing set = %+v; DefaultSettings = %+v", loaded, vendors.DefaultSettings())
	}
	for _, c := range []struct {
		name   string
		change func(*vendors.Settings)
		want   string // the setting the error names
	}{
		{"hold too short", func(s *vendors.Settings) { s.HoldTTL = 59 * time.Second }, "VENDORS_HOLD_TTL"},
		{"hold too long", func(s *vendors.Settings) { s.HoldTTL = 25 * time.Hour }, "VENDORS_HOLD_TTL"},
		{"notice window negative", func(s *vendors.Settings) { s.NoticeWindowDays = -1 }, "VENDORS_NOTICE_WINDOW_DAYS"},
		{"notice window too long", func(s *vendors.Settings) { s.NoticeWindowDays = 366 }, "VENDORS_NOTICE_WINDOW_DAYS"},
		{"reassessment zero", func(s *vendors.Settings) { s.ReassessmentMonthsTier3 = 0 }, "VENDORS_REASSESSMENT_MONTHS_TIER3"},
		{"weight negative", func(s *vendors.Settings) { s.ScorecardWeightSLA = -1 }, "VENDORS_SCORECARD_WEIGHT_SLA"},
		{"weights all zero", func(s *vendors.Settings) {
			s.ScorecardWeightAssessment, s.ScorecardWeightAttestations, s.ScorecardWeightSpend = 0, 0, 0
			s.ScorecardWeightIncidents, s.ScorecardWeightSLA = 0, 0
		}, "VENDORS_SCORECARD_WEIGHT_"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := vendors.DefaultSettings()
			c.change(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v; want an error naming %s", err, c.want)
			}
		})
	}
}
