package risk_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// env is a running risk service and a client of it calling with every scope.
type env struct {
	*testkit.Service
	client riskv1.RiskServiceClient
}

// start runs the risk service on db with default settings and the host options configure sets.
// Its peer, talent, is asked only about incident roles naming people: unless configure gives
// the address of one, nobody listens at talent's.
func start(t *testing.T, db testenv.Database, configure ...func(*host.Options)) *env {
	t.Helper()
	s := testkit.Start(t, db, risk.Service(), testkit.WithHostOptions(func(o *host.Options) {
		o.Peers = map[string]string{"talent": "127.0.0.1:1"}
		for _, c := range configure {
			c(o)
		}
	}))
	return &env{Service: s, client: riskv1.NewRiskServiceClient(s.Conn)}
}

// TestSkeletonServes starts the service on every engine: it is migrated (its tables exist),
// and authorizes and validates calls through the real interceptors.
func TestSkeletonServes(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		for _, table := range []string{"risks", "risk_score_changes", "mitigation_actions", "acceptances",
			"risk_matrix_versions", "risk_appetite"} {
			if n := testkit.Column[int](t, e.DB(t), `SELECT COUNT(*) FROM `+table)[0]; n != 0 {
				t.Errorf("%s has %d rows, want 0", table, n)
			}
		}
		// Validation comes first: a malformed name is INVALID_ARGUMENT.
		_, err := e.client.GetRisk(ctx, &riskv1.GetRiskRequest{Name: "risks/Not_An_ID"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
		// Authorization comes before it: a caller without risk.approve cannot approve.
		reader := riskv1.NewRiskServiceClient(e.ConnAs(t, "apiKeys/reader", "risk.read", "risk.write"))
		_, err = reader.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: "risks/r1/acceptances/a1"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("ApproveAcceptance without risk.approve = %v; want PERMISSION_DENIED", err)
		}
	})
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	if err := risk.DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	// DefaultSettings says what the programs read when nothing is set.
	var loaded risk.Settings
	if _, err := config.Load(&loaded, config.Options{Program: "test", Env: func(string) (string, bool) { return "", false }}); err != nil {
		t.Fatal(err)
	}
	if loaded != risk.DefaultSettings() {
		t.Errorf("settings read with nothing set = %+v; DefaultSettings = %+v", loaded, risk.DefaultSettings())
	}
	for _, c := range []struct {
		name   string
		change func(*risk.Settings)
		want   string // the setting the error names
	}{
		{"review zero", func(s *risk.Settings) { s.ReviewDaysHigh = 0 }, "RISK_REVIEW_DAYS_HIGH"},
		{"review too long", func(s *risk.Settings) { s.ReviewDaysLow = 1096 }, "RISK_REVIEW_DAYS_LOW"},
		{"unassessed zero", func(s *risk.Settings) { s.ReviewDaysUnassessed = 0 }, "RISK_REVIEW_DAYS_UNASSESSED"},
		{"acceptance too long", func(s *risk.Settings) { s.AcceptanceMaxDays = 1826 }, "RISK_ACCEPTANCE_MAX_DAYS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := risk.DefaultSettings()
			c.change(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v; want an error naming %s", err, c.want)
			}
		})
	}
}
