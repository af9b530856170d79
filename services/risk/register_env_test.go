package risk_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// dec4 is the day the register's tests start on, at noon UTC.
var dec4 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// midnight is the start (UTC) of a day.
func midnight(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

// register is a risk service on a fake clock, with clients calling as the test principal (every
// scope), as the risks' owner and as an approver (both with every scope too), and a connection to
// its database for what the API does not show (outbox, due items).
type register struct {
	*env
	clock    *clock.Fake
	db       *sqldb.DB
	owner    riskv1.RiskServiceClient
	approver riskv1.RiskServiceClient
}

// riskOwner owns every risk the register's tests create.
const riskOwner = "users/owner"

// startRegister runs the risk service on db with its clock at now.
func startRegister(t *testing.T, db testenv.Database, now time.Time) *register {
	t.Helper()
	c := clock.NewFake(now)
	e := start(t, db, func(o *host.Options) { o.Clock = c })
	return &register{env: e, clock: c, db: e.DB(t),
		owner:    riskv1.NewRiskServiceClient(e.ConnAs(t, riskOwner)),
		approver: riskv1.NewRiskServiceClient(e.ConnAs(t, "users/approver"))}
}

// newRisk creates the risk id owned by riskOwner, assessed (likelihood 4 × impact 4 inherent,
// 3 × 3 residual) when assessed is true.
func (r *register) newRisk(t *testing.T, id string, assessed bool) *riskv1.Risk {
	t.Helper()
	ctx := context.Background()
	rk, err := r.client.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: id, Risk: &riskv1.Risk{
		Title: "Risk " + id, Category: riskv1.Risk_CYBERSECURITY, Owner: riskOwner}})
	if err != nil {
		t.Fatalf("create risk %s: %v", id, err)
	}
	if !assessed {
		return rk
	}
	rk, err = r.client.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: rk.GetName(), Reason: "first assessment",
		Inherent: &riskv1.RiskScore{Likelihood: 4, Impact: 4}, Residual: &riskv1.RiskScore{Likelihood: 3, Impact: 3}})
	if err != nil {
		t.Fatalf("assess risk %s: %v", id, err)
	}
	return rk
}

// outbox returns the events about resource whose subject ends with suffix (".action.overdue"),
// oldest first, decoded with newM.
func outbox[M proto.Message](t *testing.T, db *sqldb.DB, suffix, resource string, newM func() M) []M {
	t.Helper()
	var out []M
	for _, payload := range testkit.Column[[]byte](t, db,
		`SELECT payload FROM outbox WHERE subject LIKE $1 AND resource_name = $2 ORDER BY seq`, "%"+suffix, resource) {
		m := newM()
		if err := protojson.Unmarshal(payload, m); err != nil {
			t.Fatalf("event %s: %v", suffix, err)
		}
		out = append(out, m)
	}
	return out
}

// countEvents counts the events about resource whose subject ends with suffix.
func countEvents(t *testing.T, db *sqldb.DB, suffix, resource string) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1 AND resource_name = $2`, "%"+suffix, resource)[0]
}

// dueItems returns the due time of each unfired scheduled item of resource, by kind.
func dueItems(t *testing.T, db *sqldb.DB, resource string) map[string]time.Time {
	t.Helper()
	type item struct {
		kind string
		due  time.Time
	}
	items := testkit.Rows(t, db, func(rs *sql.Rows) (item, error) {
		var it item
		return it, rs.Scan(&it.kind, &it.due)
	}, `SELECT kind, due_at FROM scheduled_items WHERE resource_name = $1 AND fired_at IS NULL`, resource)
	out := map[string]time.Time{}
	for _, it := range items {
		out[it.kind] = it.due.UTC()
	}
	return out
}
