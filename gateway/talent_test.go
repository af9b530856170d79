package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// startTalent runs the talent service on db and a gateway in front of it; it returns the
// gateway's URL. Its peer, budget, is an address nobody listens on: only a team's cost centre
// would need it.
func startTalent(t *testing.T, db testenv.Database, scopes ...string) string {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)
	in, err := host.Start(ctx, talent.Service(), host.Options{
		DatabaseURL: db.DSN, Schema: db.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc, Peers: map[string]string{"budget": "127.0.0.1:1"},
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: quiet, Identity: identitytest.Verifier(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	gw, err := gateway.New(ctx, gateway.Options{Backends: oneBackend(in.Addr()), Logger: quiet,
		Authenticator: identitytest.Authenticator{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	if len(scopes) == 0 {
		return srv.URL
	}
	// A second gateway on the same service, authenticating every caller with scopes only.
	narrow, err := gateway.New(ctx, gateway.Options{Backends: oneBackend(in.Addr()), Logger: quiet,
		Authenticator: identitytest.Authenticator{Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { narrow.Close() })
	nsrv := httptest.NewServer(narrow)
	t.Cleanup(nsrv.Close)
	return srv.URL + " " + nsrv.URL
}

// TestTalentTeamsREST walks teams over REST: created, a 400 naming the field, read, listed with a
// filter, renamed with If-Match (409 when stale), and deleted (404 after).
func TestTalentTeamsREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startTalent(t, db)
			eng := call(t, "POST", url+"/v1/teams?teamId=engineering", `{"displayName":"Engineering"}`)
			if eng.code != 200 || eng.body["name"] != "teams/engineering" {
				t.Fatalf("POST /v1/teams = %d %v", eng.code, eng.body)
			}
			bad := call(t, "POST", url+"/v1/teams", `{"displayName":"Orphan","parent":"teams/nowhere"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "PARENT_NOT_FOUND" ||
				!slices.Contains(fields, "team.parent:PARENT_NOT_FOUND") {
				t.Errorf("a missing parent = %d %v %v", bad.code, reason, fields)
			}
			bad = call(t, "POST", url+"/v1/teams", `{"displayName":"Odd","parent":"Teams/X"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" || len(fields) != 1 {
				t.Errorf("a malformed parent = %d %v %v", bad.code, reason, fields)
			}
			pl := call(t, "POST", url+"/v1/teams?teamId=platform", `{"displayName":"Platform","parent":"teams/engineering"}`)
			if pl.code != 200 {
				t.Fatalf("POST child = %d %v", pl.code, pl.body)
			}
			if g := call(t, "GET", url+"/v1/teams/platform", ""); g.code != 200 || g.body["parent"] != "teams/engineering" {
				t.Errorf("GET = %d %v", g.code, g.body)
			}
			l := call(t, "GET", url+`/v1/teams?filter=parent%20%3D%20null`, "")
			if teams, _ := l.body["teams"].([]any); l.code != 200 || len(teams) != 1 {
				t.Errorf("roots = %d %v", l.code, l.body)
			}
			etag := pl.body["etag"].(string)
			ifMatch := map[string]string{"Content-Type": "application/json", "If-Match": etag}
			resp, renamed := do(t, nil, "PATCH", url+"/v1/teams/platform", strings.NewReader(`{"displayName":"Platform engineering"}`), ifMatch)
			if resp.StatusCode != 200 || renamed["displayName"] != "Platform engineering" {
				t.Fatalf("PATCH = %d %v", resp.StatusCode, renamed)
			}
			if resp, stale := do(t, nil, "PATCH", url+"/v1/teams/platform", strings.NewReader(`{"displayName":"Stale"}`), ifMatch); resp.StatusCode != 409 {
				t.Errorf("stale PATCH = %d %v", resp.StatusCode, stale)
			}
			if r := call(t, "DELETE", url+"/v1/teams/engineering", ""); r.code != 400 && r.code != 412 {
				t.Errorf("DELETE of a team with a child = %d %v", r.code, r.body)
			} else if reason, _ := details(t, r.body); reason != "TEAM_NOT_EMPTY" {
				t.Errorf("DELETE of a team with a child: reason %s", reason)
			}
			if r := call(t, "DELETE", url+"/v1/teams/platform", ""); r.code != 200 {
				t.Errorf("DELETE = %d %v", r.code, r.body)
			}
			if r := call(t, "GET", url+"/v1/teams/platform", ""); r.code != 404 {
				t.Errorf("GET after DELETE = %d %v", r.code, r.body)
			}
		})
	}
}

// TestTalentPayOverREST: over REST too, a caller without talent.compensation gets people without
// pay (the JSON has no loadedAnnualCost), a 400 COMPENSATION_FIELD for a filter or an order on it,
// and a 403 for setting it.
func TestTalentPayOverREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			urls := strings.Fields(startTalent(t, db, "talent.read", "talent.write"))
			hr, manager := urls[0], urls[1]
			if r := call(t, "POST", hr+"/v1/teams?teamId=platform", `{"displayName":"Platform"}`); r.code != 200 {
				t.Fatalf("POST team = %d %v", r.code, r.body)
			}
			r := call(t, "POST", hr+"/v1/people?personId=ada", `{"displayName":"Ada","team":"teams/platform","employmentType":"EMPLOYEE",
				"startDate":{"year":2024,"month":3,"day":1},"loadedAnnualCost":{"currencyCode":"EUR","units":"187654"}}`)
			if cost, _ := r.body["loadedAnnualCost"].(map[string]any); r.code != 200 || cost["units"] != "187654" {
				t.Fatalf("HR POST person = %d %v", r.code, r.body)
			}
			for _, path := range []string{"/v1/people/ada", "/v1/people"} {
				r := call(t, "GET", manager+path, "")
				if r.code != 200 || strings.Contains(fmt.Sprint(r.body), "187654") || strings.Contains(fmt.Sprint(r.body), "loadedAnnualCost") {
					t.Errorf("manager GET %s = %d %v", path, r.code, r.body)
				}
			}
			for _, q := range []string{"filter=loaded_annual_cost.units%20%3E%201", "orderBy=loaded_annual_cost.units"} {
				r := call(t, "GET", manager+"/v1/people?"+q, "")
				if reason, _ := details(t, r.body); r.code != 400 || reason != "COMPENSATION_FIELD" || strings.Contains(fmt.Sprint(r.body), "187654") {
					t.Errorf("manager GET /v1/people?%s = %d %v", q, r.code, r.body)
				}
			}
			r = call(t, "PATCH", manager+"/v1/people/ada", `{"loadedAnnualCost":{"currencyCode":"EUR","units":"1"}}`)
			if reason, _ := details(t, r.body); r.code != 403 || reason != "FIELD_WRITE_DENIED" {
				t.Errorf("manager PATCH pay = %d %v", r.code, r.body)
			}
		})
	}
}

// TestTalentCertificationsREST walks a person's certifications over REST: created, a 400 naming
// the field, read, listed across people with a filter on the expiry date, changed with If-Match
// (409 when stale), and deleted (404 after).
func TestTalentCertificationsREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startTalent(t, db)
			if r := call(t, "POST", url+"/v1/teams?teamId=platform", `{"displayName":"Platform"}`); r.code != 200 {
				t.Fatalf("POST team = %d %v", r.code, r.body)
			}
			if r := call(t, "POST", url+"/v1/people?personId=ada", `{"displayName":"Ada","team":"teams/platform","employmentType":"EMPLOYEE",
				"startDate":{"year":2024,"month":3,"day":1}}`); r.code != 200 {
				t.Fatalf("POST person = %d %v", r.code, r.body)
			}
			c := call(t, "POST", url+"/v1/people/ada/certifications?certificationId=aws", `{"displayName":"AWS Solutions Architect",
				"issuer":"Amazon Web Services","obtainDate":{"year":2025,"month":1,"day":10},"expireDate":{"year":2099,"month":3,"day":31}}`)
			if c.code != 200 || c.body["name"] != "people/ada/certifications/aws" || c.body["expired"] != nil {
				t.Fatalf("POST certification = %d %v", c.code, c.body)
			}
			bad := call(t, "POST", url+"/v1/people/ada/certifications", `{"displayName":"Backwards","issuer":"X",
				"obtainDate":{"year":2025,"month":1,"day":10},"expireDate":{"year":2024,"month":1,"day":1}}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Contains(fields, "certification.expire_date:EXPIRY_NOT_AFTER_OBTAINED") {
				t.Errorf("an expiry before the day obtained = %d %v %v", bad.code, reason, fields)
			}
			if g := call(t, "GET", url+"/v1/people/ada/certifications/aws", ""); g.code != 200 || g.body["issuer"] != "Amazon Web Services" {
				t.Errorf("GET = %d %v", g.code, g.body)
			}
			l := call(t, "GET", url+`/v1/people/-/certifications?filter=expire_date%20%3C%20%222100-01-01%22%20AND%20team%20%3D%20%22teams%2Fplatform%22`, "")
			if certs, _ := l.body["certifications"].([]any); l.code != 200 || len(certs) != 1 {
				t.Errorf("expiring before 2100 in platform = %d %v", l.code, l.body)
			}
			l = call(t, "GET", url+`/v1/people/-/certifications?filter=expire_date%20%3C%20%222099-01-01%22`, "")
			if certs, _ := l.body["certifications"].([]any); l.code != 200 || len(certs) != 0 {
				t.Errorf("expiring before 2099 = %d %v", l.code, l.body)
			}
			ifMatch := map[string]string{"Content-Type": "application/json", "If-Match": c.body["etag"].(string)}
			resp, changed := do(t, nil, "PATCH", url+"/v1/people/ada/certifications/aws?updateMask=expireDate",
				strings.NewReader(`{"expireDate":{"year":2099,"month":6,"day":30}}`), ifMatch)
			if exp, _ := changed["expireDate"].(map[string]any); resp.StatusCode != 200 || exp["month"] != float64(6) {
				t.Fatalf("PATCH = %d %v", resp.StatusCode, changed)
			}
			if resp, stale := do(t, nil, "PATCH", url+"/v1/people/ada/certifications/aws", strings.NewReader(`{"issuer":"Stale"}`), ifMatch); resp.StatusCode != 409 {
				t.Errorf("stale PATCH = %d %v", resp.StatusCode, stale)
			}
			if r := call(t, "DELETE", url+"/v1/people/ada/certifications/aws", ""); r.code != 200 {
				t.Errorf("DELETE = %d %v", r.code, r.body)
			}
			if r := call(t, "GET", url+"/v1/people/ada/certifications/aws", ""); r.code != 404 {
				t.Errorf("GET after DELETE = %d %v", r.code, r.body)
			}
		})
	}
}
