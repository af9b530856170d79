package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway/auth"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestStore runs the key store against every engine.
func TestStore(t *testing.T) {
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

			created := time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
			expire := created.Add(24 * time.Hour)
			for _, id := range []string{"b", "a", "c"} {
				k := &auth.Key{ID: id, DisplayName: "key " + id, Hash: auth.HashKey("secret-" + id), Prefix: "qdk_" + id,
					Scopes: []string{"budget.read", "iam.admin"}, Principal: auth.BootstrapPrincipal, Creator: "apiKeys/bootstrap", CreateTime: created}
				if id == "a" {
					k.ExpireTime = &expire
				}
				if err := st.Create(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			dup := &auth.Key{ID: "d", DisplayName: "dup", Hash: auth.HashKey("secret-a"), Prefix: "x", Scopes: []string{"x.y"}, Principal: "principals/c", Creator: "c", CreateTime: created}
			if err := st.Create(ctx, dup); err == nil {
				t.Error("two keys with one hash were stored")
			}

			a, err := st.ByHash(ctx, auth.HashKey("secret-a"))
			if err != nil {
				t.Fatal(err)
			}
			if a.ID != "a" || !a.CreateTime.Equal(created) || a.CreateTime.Location() != time.UTC ||
				a.ExpireTime == nil || !a.ExpireTime.Equal(expire) || a.RevokeTime != nil || a.LastUseTime != nil ||
				!slices.Equal(a.Scopes, []string{"budget.read", "iam.admin"}) {
				t.Errorf("ByHash = %+v", a)
			}
			if _, err := st.ByHash(ctx, auth.HashKey("nope")); !errors.Is(err, auth.ErrKeyNotFound) {
				t.Errorf("ByHash(unknown) = %v", err)
			}
			if _, err := st.Get(ctx, "nope"); !errors.Is(err, auth.ErrKeyNotFound) {
				t.Errorf("Get(unknown) = %v", err)
			}

			page, err := st.List(ctx, "", 2)
			if err != nil || len(page) != 2 || page[0].ID != "a" || page[1].ID != "b" {
				t.Fatalf("List page 1 = %v, %v", page, err)
			}
			page, err = st.List(ctx, "b", 2)
			if err != nil || len(page) != 1 || page[0].ID != "c" {
				t.Fatalf("List page 2 = %v, %v", page, err)
			}

			used := created.Add(time.Minute)
			if err := st.Touch(ctx, "b", used); err != nil {
				t.Fatal(err)
			}
			revoked := created.Add(time.Hour)
			if _, err := st.Revoke(ctx, "b", revoked); err != nil {
				t.Fatal(err)
			}
			b, err := st.Revoke(ctx, "b", revoked.Add(time.Hour))
			if err != nil || b.RevokeTime == nil || !b.RevokeTime.Equal(revoked) || b.LastUseTime == nil || !b.LastUseTime.Equal(used) {
				t.Errorf("after touch and two revocations: %+v, %v", b, err)
			}
			if _, err := st.Revoke(ctx, "nope", revoked); !errors.Is(err, auth.ErrKeyNotFound) {
				t.Errorf("Revoke(unknown) = %v", err)
			}
		})
	}
}
