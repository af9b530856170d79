package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// TestVerifyConsumerFindsViolations feeds the consumer check an effects table with a duplicate,
// a missing effect, a stale skip, a wrong version and an orphan, and expects each to be counted.
func TestVerifyConsumerFindsViolations(t *testing.T) {
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip(dsnEnv + " is not set: the verifier is checked against a PostgreSQL schema it creates; CI sets it")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "faults_verify_" + hex.EncodeToString(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Schema: schema, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := pgx.Connect(ctx, dsn)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if _, err := pg.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		pg.Close(ctx)
	})
	if err := host.MigratePlatform(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "faults_effects_migrations", effectsMigrations); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO effects (event_id, resource, version, attempt, pid) VALUES
			('e1', 'costCenters/a', 1, 1, 1),
			('e2', 'costCenters/b', 1, 1, 1), ('e2', 'costCenters/b', 1, 2, 2),
			('e5', 'costCenters/c', 1, 2, 1),
			('e9', 'costCenters/z', 1, 1, 1)`,
		`INSERT INTO consumer_inbox (consumer, event_id, outcome, processed_at) VALUES ('effects', 'e4', 'STALE', now())`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{pg: pg, consumerSchema: schema, sum: &summary{}}
	outbox := map[string]change{
		"e1": {"costCenters/a", 1}, "e2": {"costCenters/b", 1}, "e3": {"costCenters/a", 2},
		"e4": {"costCenters/b", 2}, "e5": {"costCenters/c", 2},
	}
	if err := e.verifyConsumer(ctx, outbox); err != nil {
		t.Fatal(err)
	}
	s := e.sum
	if s.Effects != 3 || s.EffectRows != 5 || s.EffectDuplicates != 1 || s.EffectsMissing != 1 ||
		s.Stale != 1 || s.EffectOrphans != 1 || s.EffectsOnRedelivery != 2 {
		t.Fatalf("effects %d, rows %d, duplicates %d, missing %d, stale %d, orphans %d, on redelivery %d; want 3, 5, 1, 1, 1, 1, 2",
			s.Effects, s.EffectRows, s.EffectDuplicates, s.EffectsMissing, s.Stale, s.EffectOrphans, s.EffectsOnRedelivery)
	}
	all := strings.Join(s.Failures, "\n")
	for _, want := range []string{"e2 (costCenters/b version 1) applied 2 times", "e3 (costCenters/a version 2) has no effect",
		"e5 applied as costCenters/c version 1, committed as costCenters/c version 2", "effect of event e9"} {
		if !strings.Contains(all, want) {
			t.Errorf("failures lack %q:\n%s", want, all)
		}
	}
	if len(s.Failures) != 4 {
		t.Errorf("%d failures, want 4:\n%s", len(s.Failures), all)
	}
}
