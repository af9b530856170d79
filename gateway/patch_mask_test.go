package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// TestPatchNestedFieldsWithoutMask patches a message field written whole (a Money, a Date) of a
// budget line, a vendor contract and a risk's mitigation action over REST with the JSON body
// alone: grpc-gateway derives a mask naming the sub-fields (planned_amount.units), which means
// the field itself. A path into the message that names no field of it is still a 400 naming it.
func TestPatchNestedFieldsWithoutMask(t *testing.T) {
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
				own := db // each service owns its database
				if db.Engine == testenv.EnginePostgres {
					own = testenv.Postgres(t)
				} else {
					own = testenv.SQLite(t)
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
			b := start(budget.Service(), host.Options{})
			backends := oneBackend(b)
			backends["vendors"] = start(vendors.Service(), host.Options{Peers: map[string]string{"budget": b}})
			backends["risk"] = start(risk.Service(), host.Options{Peers: map[string]string{"talent": "127.0.0.1:1"}})
			gw, err := gateway.New(ctx, gateway.Options{Backends: backends, Logger: quiet, Authenticator: identitytest.Authenticator{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { gw.Close() })
			srv := httptest.NewServer(gw)
			t.Cleanup(srv.Close)
			url := srv.URL

			must := func(method, path, body string) map[string]any {
				t.Helper()
				r := call(t, method, url+path, body)
				if r.code != 200 {
					t.Fatalf("%s %s = %d %v", method, path, r.code, r.body)
				}
				return r.body
			}
			refused := func(path, body, name string) {
				t.Helper()
				r := call(t, "PATCH", url+path, body)
				reason, fields := details(t, r.body)
				if r.code != 400 || reason != "INVALID_ARGUMENT" || !slices.Equal(fields, []string{"update_mask:FIELD_NOT_WRITABLE"}) ||
					!strings.Contains(describe(r.body), name) {
					t.Errorf("PATCH %s %s = %d %v; want 400 naming %s", path, body, r.code, r.body, name)
				}
			}
			units := func(m map[string]any, field string) any {
				v, _ := m[field].(map[string]any)
				return v["units"]
			}
			day := func(m map[string]any, field string) any {
				v, _ := m[field].(map[string]any)
				return v["day"]
			}

			// Budget: a line's planned amount.
			must("POST", "/v1/costCenters?costCenterId=it", `{"displayName":"IT","code":"CC-1"}`)
			must("POST", "/v1/budgets?budgetId=it", `{"costCenter":"costCenters/it","fiscalYear":2030,"currencyCode":"EUR","displayName":"IT"}`)
			must("POST", "/v1/budgets/it/lines?budgetLineId=cloud", `{"displayName":"Cloud","category":"CLOUD","expenseType":"OPEX","plannedAmount":{"units":"1000"}}`)
			l := must("PATCH", "/v1/budgets/it/lines/cloud", `{"plannedAmount":{"currencyCode":"EUR","units":"1500"}}`)
			if units(l, "plannedAmount") != "1500" {
				t.Errorf("PATCH the planned amount: %v", l)
			}
			if g := must("GET", "/v1/budgets/it/lines/cloud", ""); units(g, "plannedAmount") != "1500" {
				t.Errorf("the line after PATCH: %v", g)
			}
			refused("/v1/budgets/it/lines/cloud?updateMask=plannedAmount.cents", `{"plannedAmount":{"units":"1"}}`, "plannedAmount.cents")

			// Vendors: a contract's total value and end date.
			must("POST", "/v1/vendors?vendorId=acme", `{"displayName":"Acme","legalName":"Acme GmbH","category":"SAAS","tier":3}`)
			must("POST", "/v1/vendors/acme/contracts?contractId=saas", `{"title":"Acme SaaS","totalValue":{"currencyCode":"EUR","units":"12000"},
				"annualValue":{"currencyCode":"EUR","units":"12000"},"billingFrequency":"MONTHLY","startDate":{"year":2030,"month":1,"day":1},
				"endDate":{"year":2030,"month":12,"day":31},"owner":"people/ada"}`)
			c := must("PATCH", "/v1/vendors/acme/contracts/saas", `{"totalValue":{"currencyCode":"EUR","units":"13000"},"endDate":{"year":2030,"month":12,"day":30}}`)
			if units(c, "totalValue") != "13000" || day(c, "endDate") != float64(30) {
				t.Errorf("PATCH the contract's value and end date: %v", c)
			}
			refused("/v1/vendors/acme/contracts/saas?updateMask=endDate.week", `{"endDate":{"year":2030,"month":12,"day":30}}`, "endDate.week")

			// Risk: a mitigation action's due date and cost estimate.
			must("POST", "/v1/risks?riskId=vpn", `{"title":"Remote access without MFA","category":"CYBERSECURITY","owner":"ana@example.com"}`)
			must("POST", "/v1/risks/vpn/actions?mitigationActionId=mfa", `{"title":"Enforce MFA","owner":"netops@example.com",
				"dueDate":{"year":2030,"month":1,"day":31},"costEstimate":{"currencyCode":"EUR","units":"12500"}}`)
			a := must("PATCH", "/v1/risks/vpn/actions/mfa", `{"dueDate":{"year":2030,"month":3,"day":15},"costEstimate":{"currencyCode":"EUR","units":"9000"}}`)
			if day(a, "dueDate") != float64(15) || units(a, "costEstimate") != "9000" {
				t.Errorf("PATCH the action's due date and cost: %v", a)
			}
			refused("/v1/risks/vpn/actions/mfa?updateMask=costEstimate.cents", `{"costEstimate":{"units":"1"}}`, "costEstimate.cents")
		})
	}
}
