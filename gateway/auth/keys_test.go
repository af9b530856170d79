package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/quarterdeck/quarterdeck/gateway/auth"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	created := f.do(t, "Bearer "+adminKey, http.MethodPost, "/v1/apiKeys",
		`{"displayName":"CI","scopes":["budget.read"],"expireTime":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
	key, _ := created.body["key"].(string)
	name, _ := created.body["name"].(string)
	if created.code != http.StatusOK || !strings.HasPrefix(key, auth.KeyPrefix) || !strings.HasPrefix(name, "apiKeys/") ||
		created.body["creator"] != "apiKeys/bootstrap" || !strings.HasPrefix(key, created.body["keyPrefix"].(string)) {
		t.Fatalf("create = %d %v", created.code, created.body)
	}
	// The secret is shown once: never again by Get or List, and not stored.
	got := f.do(t, "Bearer "+adminKey, http.MethodGet, "/v1/"+name, "")
	if got.code != http.StatusOK || got.body["key"] != nil || got.body["lastUseTime"] != nil {
		t.Fatalf("get = %d %v", got.code, got.body)
	}
	stored, err := f.keys.Get(context.Background(), strings.TrimPrefix(name, "apiKeys/"))
	if err != nil || stored.Hash != auth.HashKey(key) || strings.Contains(stored.Hash, key) {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	// The key works for what it grants, and its use is recorded.
	if r := f.do(t, "Bearer "+key, http.MethodGet, "/v1/costCenters", ""); r.code != http.StatusOK {
		t.Fatalf("list with the new key = %d %v", r.code, r.body)
	}
	if r := f.do(t, "Bearer "+key, http.MethodGet, "/v1/apiKeys", ""); r.code != http.StatusForbidden {
		t.Fatalf("admin call with a budget.read key = %d %v", r.code, r.body)
	}
	got = f.do(t, "Bearer "+adminKey, http.MethodGet, "/v1/"+name, "")
	if got.body["lastUseTime"] == nil {
		t.Errorf("no lastUseTime after use: %v", got.body)
	}
	list := f.do(t, "Bearer "+adminKey, http.MethodGet, "/v1/apiKeys?pageSize=1", "")
	keys, _ := list.body["apiKeys"].([]any)
	if list.code != http.StatusOK || len(keys) != 1 || list.body["nextPageToken"] == nil {
		t.Fatalf("list page 1 = %d %v", list.code, list.body)
	}
	for _, k := range keys {
		if k.(map[string]any)["key"] != nil {
			t.Errorf("list shows a secret: %v", k)
		}
	}
	// Revoked, it authenticates nothing; revoking again changes nothing.
	rev := f.do(t, "Bearer "+adminKey, http.MethodPost, "/v1/"+name+":revoke", `{}`)
	if rev.code != http.StatusOK || rev.body["revokeTime"] == nil {
		t.Fatalf("revoke = %d %v", rev.code, rev.body)
	}
	again := f.do(t, "Bearer "+adminKey, http.MethodPost, "/v1/"+name+":revoke", `{}`)
	if again.body["revokeTime"] != rev.body["revokeTime"] {
		t.Errorf("second revoke moved the revoke time: %v then %v", rev.body["revokeTime"], again.body["revokeTime"])
	}
	if r := f.do(t, "Bearer "+key, http.MethodGet, "/v1/costCenters", ""); r.code != http.StatusUnauthorized {
		t.Fatalf("revoked key = %d %v", r.code, r.body)
	}

	// Bad requests are 400s with field violations; a key cannot out-grant its creator.
	narrowAdmin := createKey(t, f, []string{"iam.admin"})
	for _, tc := range []struct {
		key, body string
		code      int
		reason    string
	}{
		{adminKey, `{"displayName":"x","scopes":["budget.nosuch"]}`, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{adminKey, `{"displayName":"x","scopes":[]}`, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{adminKey, `{"displayName":"x","scopes":["budget.read"],"expireTime":"2001-01-01T00:00:00Z"}`, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{narrowAdmin, `{"displayName":"x","scopes":["budget.write"]}`, http.StatusForbidden, "SCOPE_NOT_HELD"},
	} {
		r := f.do(t, "Bearer "+tc.key, http.MethodPost, "/v1/apiKeys", tc.body)
		if reason, _, _ := errorInfo(r.body); r.code != tc.code || reason != tc.reason {
			t.Errorf("create %s = %d %v; want %d %s", tc.body, r.code, r.body, tc.code, tc.reason)
		}
	}
	if r := f.do(t, "Bearer "+adminKey, http.MethodGet, "/v1/apiKeys/nothere", ""); r.code != http.StatusNotFound {
		t.Errorf("get missing = %d %v", r.code, r.body)
	}
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			gdb, err := auth.OpenDatabase(ctx, db.DSN, sqldb.Options{Schema: db.Schema, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer gdb.Close()
			st := auth.NewStore(gdb)
			scopes := []string{"budget.read", "iam.admin"}

			// Generated once, then kept (and not shown again).
			first, err := auth.Bootstrap(ctx, st, "", scopes)
			if err != nil || !strings.HasPrefix(first, auth.KeyPrefix+auth.BootstrapID+"_") {
				t.Fatalf("first start = %q, %v", first, err)
			}
			second, err := auth.Bootstrap(ctx, st, "", append(scopes, "budget.write"))
			if err != nil || second != "" {
				t.Fatalf("second start = %q, %v", second, err)
			}
			k, err := st.ByHash(ctx, auth.HashKey(first))
			if err != nil || k.ID != auth.BootstrapID || len(k.Scopes) != 3 {
				t.Fatalf("stored bootstrap key = %+v, %v; want the first key with the new scopes", k, err)
			}
			// A revoked generated key stays revoked across restarts.
			if _, err := st.Revoke(ctx, auth.BootstrapID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := auth.Bootstrap(ctx, st, "", scopes); err != nil {
				t.Fatal(err)
			}
			if k, _ := st.Get(ctx, auth.BootstrapID); k.RevokeTime == nil {
				t.Error("a restart lifted the revocation of the bootstrap key")
			}

			// A configured key replaces it, idempotently, and the old one stops working.
			if _, err := auth.Bootstrap(ctx, st, "short", scopes); err == nil {
				t.Error("a short bootstrap key was accepted")
			}
			configured := "configured-bootstrap-key-0123456789abcdef"
			for range 2 {
				if out, err := auth.Bootstrap(ctx, st, configured, scopes); err != nil || out != "" {
					t.Fatalf("configured = %q, %v", out, err)
				}
			}
			k, err = st.ByHash(ctx, auth.HashKey(configured))
			if err != nil || k.RevokeTime != nil {
				t.Fatalf("configured key = %+v, %v", k, err)
			}
			if _, err := st.ByHash(ctx, auth.HashKey(first)); !errors.Is(err, auth.ErrKeyNotFound) {
				t.Errorf("the generated key still matches: %v", err)
			}
		})
	}
}

func TestKeySetRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	p := f.idp
	now := time.Now()
	f.verifier.SetClock(func() time.Time { return now })
	ctx := context.Background()

	if _, err := f.verifier.Verify(ctx, sign(t, jose.RS256, p.rsa, "rsa1", claims(nil))); err != nil {
		t.Fatal(err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches after the first token = %d, want 1", n)
	}
	// A flood of unknown key ids costs no fetch within the minimum interval.
	for i := range 20 {
		if _, err := f.verifier.Verify(ctx, sign(t, jose.RS256, p.rsa, "forged-"+string(rune('a'+i)), claims(nil))); err == nil {
			t.Fatal("a token with an unknown kid was accepted")
		}
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches after 20 unknown kids = %d, want 1", n)
	}
	// After the interval, a rotated-in key is fetched on first sight and accepted.
	rotated := p.ec
	p.extra.Store(&jose.JSONWebKey{Key: &rotated.PublicKey, KeyID: "ec2", Algorithm: "ES256", Use: "sig"})
	now = now.Add(2 * time.Hour)
	tok := sign(t, jose.ES256, rotated, "ec2", claims(func(c map[string]any) {
		c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix(), now.Add(time.Minute).Unix()
	}))
	if _, err := f.verifier.Verify(ctx, tok); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches after the rotation = %d, want 2", n)
	}
}
