package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// principals authenticates the bearer token `<name>` as the principal `principals/<name>` with
// a key of its own and the scopes given for it.
type principals map[string][]string

func (p principals) Authenticate(_ context.Context, authorization string) (identity.Principal, metadata.MD, error) {
	name := strings.TrimPrefix(authorization, "Bearer ")
	scopes, ok := p[name]
	if !ok {
		return identity.Principal{}, nil, errors.New("unknown test principal")
	}
	pr := identity.Principal{Subject: "apiKeys/" + name + "-1", Owner: "principals/" + name, Scopes: scopes}
	t, err := identitytest.Signer().Sign(pr)
	if err != nil {
		return identity.Principal{}, nil, err
	}
	return pr, metadata.Pairs(identity.MetadataKey, t), nil
}

// TestOwnershipOverREST: with every service's write policy `owner`, a write of another
// principal's cost centre, vendor, risk or position over REST is 403 NOT_OWNER and changes
// nothing; the owner's own write and the admin scope's pass.
func TestOwnershipOverREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
			ns := testenv.NATSServer(t)
			nc, _ := testenv.Connect(t, ns.URL)
			start := func(svc host.Service, o host.Options) string {
				t.Helper()
				own := testenv.SQLite(t) // each service owns its database
				if db.Engine == testenv.EnginePostgres {
					own = testenv.Postgres(t)
				}
				o.DatabaseURL, o.Schema, o.GRPCAddr, o.NATS = own.DSN, own.Schema, "127.0.0.1:0", nc
				o.Stream, o.Logger, o.Identity = events.StreamConfig{Prefix: ns.SubjectPrefix}, quiet, identitytest.Verifier()
				in, err := host.Start(ctx, svc, o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = in.Stop(ctx)
				})
				return in.Addr()
			}
			owner := string(ownership.Owner)
			// Under the owner policy budget and vendors call talent (for team owners), which calls
			// budget: talent's port is taken first.
			tl, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ta := tl.Addr().String()
			b := start(budget.Configured(budget.Settings{FiscalYearStartMonth: 1, WritePolicy: owner}), host.Options{Peers: map[string]string{"talent": ta}})
			backends := oneBackend(b)
			vc := vendors.DefaultSettings()
			vc.WritePolicy = owner
			backends["vendors"] = start(vendors.Configured(vc), host.Options{Peers: map[string]string{"budget": b, "talent": ta}})
			tc := talent.DefaultSettings()
			tc.WritePolicy = owner
			backends["talent"] = start(talent.Configured(tc), host.Options{Peers: map[string]string{"budget": b}, Listener: tl})
			rc := risk.DefaultSettings()
			rc.WritePolicy = owner
			backends["risk"] = start(risk.Configured(rc), host.Options{Peers: map[string]string{"talent": backends["talent"]}})
			writer := []string{"budget.read", "budget.write", "vendors.read", "vendors.write", "risk.read", "risk.write", "talent.read", "talent.write"}
			gw, err := gateway.New(ctx, gateway.Options{Backends: backends, Logger: quiet, Authenticator: principals{
				"alice": writer, "mallory": writer,
				"root": append([]string{"budget.admin", "vendors.admin", "risk.admin", "talent.admin"}, writer...),
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { gw.Close() })
			srv := httptest.NewServer(gw)
			t.Cleanup(srv.Close)

			as := func(who, method, path, body string) response {
				t.Helper()
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				resp, out := do(t, nil, method, srv.URL+path, rd, map[string]string{"Authorization": "Bearer " + who, "Content-Type": "application/json"})
				return response{code: resp.StatusCode, body: out}
			}
			must := func(r response, what string) map[string]any {
				t.Helper()
				if r.code != 200 {
					t.Fatalf("%s = %d %v", what, r.code, r.body)
				}
				return r.body
			}
			must(as("alice", "POST", "/v1/teams?teamId=platform", `{"displayName":"Platform"}`), "POST /v1/teams")
			for _, c := range []struct {
				service, create, path, write, method, body string
			}{
				{"budget", "/v1/costCenters?costCenterId=ops", "/v1/costCenters/ops", "/v1/costCenters/ops", "PATCH", `{"displayName":"Renamed"}`},
				{"vendors", "/v1/vendors?vendorId=acme", "/v1/vendors/acme", "/v1/vendors/acme", "PATCH", `{"description":"Changed"}`},
				{"risk", "/v1/risks?riskId=erp", "/v1/risks/erp", "/v1/risks/erp:close", "POST", `{"reason":"gone"}`},
				{"talent", "/v1/positions?positionId=sre-1", "/v1/positions/sre-1", "/v1/positions/sre-1", "DELETE", ""},
			} {
				t.Run(c.service, func(t *testing.T) {
					body := map[string]string{
						"budget":  `{"displayName":"Ops","code":"OPS"}`,
						"vendors": `{"displayName":"Acme","legalName":"Acme GmbH","category":"SAAS","tier":3}`,
						"risk":    `{"title":"ERP outage","category":"CYBERSECURITY"}`,
						"talent":  `{"team":"teams/platform","title":"SRE","budgetedAnnualCost":{"currencyCode":"USD","units":"1000"},"targetStartDate":{"year":2027,"month":1,"day":4},"reason":"GROWTH"}`,
					}[c.service]
					created := must(as("alice", "POST", c.create, body), "POST "+c.create)
					if o, r := created["owner"], created["requester"]; o != "principals/alice" && r != "principals/alice" {
						t.Errorf("created %v; want it owned by principals/alice, the creator", created)
					}
					before := must(as("alice", "GET", c.path, ""), "GET "+c.path)
					r := as("mallory", c.method, c.write, c.body)
					if reason, _ := details(t, r.body); r.code != 403 || reason != ownership.ReasonNotOwner {
						t.Errorf("another principal's %s %s = %d %v; want 403 %s", c.method, c.write, r.code, r.body, ownership.ReasonNotOwner)
					}
					if after := must(as("alice", "GET", c.path, ""), "GET "+c.path); !reflect.DeepEqual(before, after) {
						t.Errorf("a refused write changed %s:\n%v\nto\n%v", c.path, before, after)
					}
					who := "alice"
					if c.service == "vendors" || c.service == "talent" {
						who = "root" // the admin scope, for some; the owner for the others
					}
					must(as(who, c.method, c.write, c.body), who+"'s "+c.method+" "+c.write)
				})
			}
		})
	}
}
