package auth_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/gateway/auth"
	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// frozen is a clock the test moves by hand.
type frozen struct {
	mu sync.Mutex
	t  time.Time
}

func (f *frozen) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *frozen) Add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// replica is one gateway process's side of API keys: its own connection to the shared database,
// its key store, authenticator and events.
type replica struct {
	keys  *auth.Store
	authn *auth.Authenticator
	admin *auth.Service
	db    *sqldb.DB
}

func startReplica(t *testing.T, db testenv.Database, ns testenv.NATS, clock *frozen) *replica {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gdb, err := auth.OpenDatabase(ctx, db.DSN, sqldb.Options{Schema: db.Schema, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gdb.Close() })
	keys := auth.NewStore(gdb)
	authn, err := auth.New(auth.Options{Keys: keys, Signer: identitytest.Signer(), Logger: quiet, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{keys: keys, authn: authn, admin: auth.NewService(keys), db: gdb}
	if ns.URL == "" {
		return r
	}
	nc, _ := testenv.Connect(t, ns.URL)
	ev, err := auth.StartEvents(ctx, auth.EventsOptions{DB: gdb, Keys: keys, Authenticator: authn, NATS: nc,
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix, Replicas: 1, MaxAge: time.Hour, Duplicates: time.Minute}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ev.Stop(ctx); err != nil {
			t.Errorf("stop events: %v", err)
		}
	})
	return r
}

// newTestKey stores a key with scopes and returns its secret.
func newTestKey(t *testing.T, keys *auth.Store, id string, scopes ...string) string {
	t.Helper()
	secret, err := auth.NewKeySecret(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Create(context.Background(), &auth.Key{ID: id, DisplayName: id, Hash: auth.HashKey(secret), Prefix: secret[:12],
		Scopes: scopes, Principal: auth.BootstrapPrincipal, Creator: "apiKeys/bootstrap", CreateTime: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
	return secret
}

func refusedAsInvalid(err error) bool {
	return status.Code(err) == codes.Unauthenticated
}

// TestRevocationReachesEveryReplica: two gateway replicas on one database have both cached a
// key; revoked through one, it is refused by that one at once and by the other as soon as the
// revocation's event arrives. Their clock stands still, so the cache's TTL cannot be what
// refuses it.
func TestRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := testenv.NATSServer(t)
			clock := &frozen{t: time.Now()}
			a, b := startReplica(t, db, ns, clock), startReplica(t, db, ns, clock)
			key := newTestKey(t, a.keys, "twice", "budget.read")
			other := newTestKey(t, a.keys, "other", "budget.read")
			for _, r := range []*replica{a, b} {
				for _, k := range []string{key, other} {
					if _, _, err := r.authn.Authenticate(ctx, "Bearer "+k); err != nil {
						t.Fatalf("before the revocation: %v", err)
					}
				}
				if n := r.authn.CachedKeys(); n != 2 {
					t.Fatalf("a replica caches %d keys; want 2", n)
				}
			}

			admin := identity.NewContext(ctx, identity.Principal{Subject: "apiKeys/bootstrap", Scopes: auth.KnownScopes()})
			if _, err := a.admin.RevokeApiKey(admin, &iamv1.RevokeApiKeyRequest{Name: "apiKeys/twice"}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.authn.Authenticate(ctx, "Bearer "+key); !refusedAsInvalid(err) {
				t.Fatalf("the revoking replica still accepts the key: %v", err)
			}
			// The other replica: wait for the condition (the event), never for a fixed time.
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, _, err := b.authn.Authenticate(ctx, "Bearer "+key)
				if refusedAsInvalid(err) {
					break
				}
				if err != nil {
					t.Fatalf("other replica: %v", err)
				}
				if time.Now().After(deadline) {
					t.Fatal("the other replica still accepts the revoked key: its revocation never arrived")
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Only that key: the other stays cached and valid on both.
			for _, r := range []*replica{a, b} {
				if _, _, err := r.authn.Authenticate(ctx, "Bearer "+other); err != nil {
					t.Errorf("an unrevoked key is refused: %v", err)
				}
			}
		})
	}
}

// TestKeyCacheExpires: a key is looked up once and then served from the cache — a change in the
// database that sends no event (here the row revoked by hand) is not seen — until the entry is
// 30 s old; from then on the change is seen. The 30 s are the backstop of a lost event.
func TestKeyCacheExpires(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &frozen{t: time.Now()}
			r := startReplica(t, db, testenv.NATS{}, clock)
			key := newTestKey(t, r.keys, "cached", "budget.read")
			if _, _, err := r.authn.Authenticate(ctx, "Bearer "+key); err != nil {
				t.Fatal(err)
			}
			if _, err := r.db.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $1 WHERE id = 'cached'`, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			clock.Add(auth.MaxKeyCacheTTL - time.Millisecond)
			if _, _, err := r.authn.Authenticate(ctx, "Bearer "+key); err != nil {
				t.Fatalf("within the TTL the cached key should be used: %v", err)
			}
			clock.Add(time.Millisecond)
			if _, _, err := r.authn.Authenticate(ctx, "Bearer "+key); !refusedAsInvalid(err) {
				t.Fatalf("after the TTL the revoked row must be seen: %v", err)
			}
			// Unknown keys are never cached, however many.
			for range 50 {
				if _, _, err := r.authn.Authenticate(ctx, "Bearer qdk_nope_"+time.Now().String()); !refusedAsInvalid(err) {
					t.Fatal(err)
				}
			}
			if n := r.authn.CachedKeys(); n != 1 {
				t.Errorf("cached keys = %d; want 1 (unknown keys take no place)", n)
			}
		})
	}
}
