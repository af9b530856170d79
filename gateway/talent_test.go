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
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// startTalent runs the talent service on db and a gateway in front of it; it returns the
// gateway's URL. Its peer, budget, is an address nobody listens on: only a team's cost centre
// would need it.
func startTalent(t *testing.T, db testenv.Database) string {
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
	return srv.URL
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
