package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway/auth"
	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// wantRefusal fails unless err is the service's error of kind and reason.
func wantRefusal(t *testing.T, err error, kind fault.Kind, reason string) {
	t.Helper()
	if fe := fault.As(err); fe == nil || fe.Kind != kind || fe.Reason != reason {
		t.Fatalf("err = %v; want %v %s", err, kind, reason)
	}
}

// TestKeysBelongToPrincipals: a key belongs to the principal of whoever minted it, unless an
// holder of iam.principals names another; the authenticated caller carries it; a key may be
// revoked by its principal or by a caller holding all its scopes; the last valid admin key
// cannot be revoked. On both engines.
func TestKeysBelongToPrincipals(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &frozen{t: time.Now()}
			r := startReplica(t, db, testenv.NATS{}, clock)
			if _, err := auth.Bootstrap(ctx, r.keys, adminKey, auth.KnownScopes()); err != nil {
				t.Fatal(err)
			}
			caller := func(secret string) (context.Context, identity.Principal) {
				t.Helper()
				p, _, err := r.authn.Authenticate(ctx, "Bearer "+secret)
				if err != nil {
					t.Fatalf("authenticate: %v", err)
				}
				return identity.NewContext(ctx, p), p
			}
			admin, ap := caller(adminKey)
			if ap.Owner != auth.BootstrapPrincipal || ap.Who() != "principals/admin" {
				t.Fatalf("bootstrap caller = %+v", ap)
			}
			create := func(as context.Context, principal string, scopes ...string) *iamv1.ApiKey {
				t.Helper()
				k, err := r.admin.CreateApiKey(as, &iamv1.CreateApiKeyRequest{ApiKey: &iamv1.ApiKey{
					DisplayName: "k", Principal: principal, Scopes: scopes}})
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return k
			}

			// The attack of issue 20: an admin who may approve mints a second key. It is still
			// Alice.
			alice := create(admin, "principals/alice", "iam.admin", "budget.approve", "budget.write")
			if alice.GetPrincipal() != "principals/alice" || alice.GetCreator() != "apiKeys/bootstrap" {
				t.Fatalf("alice = %v", alice)
			}
			asAlice, p := caller(alice.GetKey())
			if p.Subject != alice.GetName() || p.Who() != "principals/alice" {
				t.Fatalf("alice's caller = %+v", p)
			}
			second := create(asAlice, "", "budget.approve")
			if second.GetPrincipal() != "principals/alice" {
				t.Fatalf("a key minted by alice belongs to %q", second.GetPrincipal())
			}
			if _, p := caller(second.GetKey()); p.Who() != "principals/alice" || p.Subject == alice.GetName() {
				t.Fatalf("alice's second key authenticates as %+v", p)
			}
			// The services see the principal in the signed identity the gateway forwards.
			_, md, err := r.authn.Authenticate(ctx, "Bearer "+second.GetKey())
			if err != nil {
				t.Fatal(err)
			}
			if fwd, err := identitytest.Verifier().Verify(md.Get(identity.MetadataKey)[0]); err != nil ||
				fwd.Who() != "principals/alice" || fwd.Subject != second.GetName() {
				t.Fatalf("forwarded identity = %+v, %v", fwd, err)
			}
			if got, err := r.admin.GetApiKey(admin, &iamv1.GetApiKeyRequest{Name: second.GetName()}); err != nil || got.GetPrincipal() != "principals/alice" {
				t.Fatalf("get = %v, %v", got, err)
			}

			// Revocation: not by an admin who holds less than the key; by its principal; by a
			// caller holding every scope of it.
			bob := create(admin, "principals/bob", "iam.admin")
			asBob, _ := caller(bob.GetKey())
			_, err = r.admin.RevokeApiKey(asBob, &iamv1.RevokeApiKeyRequest{Name: alice.GetName()})
			wantRefusal(t, err, fault.PermissionDenied, "REVOKE_NOT_ALLOWED")
			_, err = r.admin.RevokeApiKey(asBob, &iamv1.RevokeApiKeyRequest{Name: "apiKeys/" + auth.BootstrapID})
			wantRefusal(t, err, fault.PermissionDenied, "REVOKE_NOT_ALLOWED")
			if _, _, err := r.authn.Authenticate(ctx, "Bearer "+adminKey); err != nil {
				t.Fatalf("the bootstrap key was revoked by a narrower key: %v", err)
			}
			if k, err := r.admin.RevokeApiKey(asAlice, &iamv1.RevokeApiKeyRequest{Name: second.GetName()}); err != nil || k.GetRevokeTime() == nil {
				t.Fatalf("alice revoking her own key = %v, %v", k, err)
			}
			// Alice holds iam.admin, which is all Bob's key grants.
			if _, err := r.admin.RevokeApiKey(asAlice, &iamv1.RevokeApiKeyRequest{Name: bob.GetName()}); err != nil {
				t.Fatalf("alice revoking bob's key: %v", err)
			}

			// The last valid admin key stays: an expired one does not count.
			expired := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
			if err := r.keys.Create(ctx, &auth.Key{ID: "old-admin", DisplayName: "old", Hash: auth.HashKey("old-admin-secret"), Prefix: "x",
				Scopes: []string{"iam.admin"}, Principal: "principals/old", Creator: "t", CreateTime: expired.Add(-time.Hour), ExpireTime: &expired}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.admin.RevokeApiKey(admin, &iamv1.RevokeApiKeyRequest{Name: alice.GetName()}); err != nil {
				t.Fatalf("revoking alice's admin key while the bootstrap key remains: %v", err)
			}
			_, err = r.admin.RevokeApiKey(admin, &iamv1.RevokeApiKeyRequest{Name: "apiKeys/" + auth.BootstrapID})
			wantRefusal(t, err, fault.FailedPrecondition, "LAST_ADMIN_KEY")
			if _, _, err := r.authn.Authenticate(ctx, "Bearer "+adminKey); err != nil {
				t.Fatalf("the last admin key was revoked: %v", err)
			}
			// With another admin key, it may go.
			carol := create(admin, "principals/carol", "iam.admin")
			if _, err := r.admin.RevokeApiKey(admin, &iamv1.RevokeApiKeyRequest{Name: "apiKeys/" + auth.BootstrapID}); err != nil {
				t.Fatalf("revoking the bootstrap key with carol's admin key left: %v", err)
			}
			asCarol, _ := caller(carol.GetKey())
			_, err = r.admin.RevokeApiKey(asCarol, &iamv1.RevokeApiKeyRequest{Name: carol.GetName()})
			wantRefusal(t, err, fault.FailedPrecondition, "LAST_ADMIN_KEY")
		})
	}
}

// TestExistingKeysGetPrincipals: keys stored before keys had principals get the principal of
// whoever made them when the database is opened — along chains of keys — and the bootstrap key
// the administrator's.
func TestExistingKeysGetPrincipals(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := startReplica(t, db, testenv.NATS{}, &frozen{t: time.Now()})
			if _, err := auth.Bootstrap(ctx, r.keys, adminKey, auth.KnownScopes()); err != nil {
				t.Fatal(err)
			}
			for _, k := range []struct{ id, creator string }{
				{"k1", "apiKeys/bootstrap"}, {"k2", "apiKeys/k1"}, {"k3", "apiKeys/k2"}, {"u1", "users/dora"}, {"u2", "apiKeys/u1"}, {"orphan", "apiKeys/gone"},
			} {
				if err := r.keys.Create(ctx, &auth.Key{ID: k.id, DisplayName: k.id, Hash: auth.HashKey("s-" + k.id), Prefix: "x",
					Scopes: []string{"budget.read"}, Principal: "principals/placeholder", Creator: k.creator, CreateTime: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
			}
			// As the migration leaves them.
			if _, err := r.db.ExecContext(ctx, `UPDATE api_keys SET principal = ''`); err != nil {
				t.Fatal(err)
			}
			if _, err := r.db.ExecContext(ctx, `UPDATE api_keys SET principal = 'principals/admin' WHERE id = 'bootstrap'`); err != nil {
				t.Fatal(err)
			}
			again, err := auth.OpenDatabase(ctx, db.DSN, sqldb.Options{Schema: db.Schema})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			want := map[string]string{"k1": "principals/admin", "k2": "principals/admin", "k3": "principals/admin",
				"u1": "users/dora", "u2": "users/dora", "orphan": "apiKeys/orphan", "bootstrap": "principals/admin"}
			for id, p := range want {
				k, err := auth.NewStore(again).Get(ctx, id)
				if err != nil || k.Principal != p {
					t.Errorf("key %s: principal %q, %v; want %q", id, k.Principal, err, p)
				}
			}
		})
	}
}
