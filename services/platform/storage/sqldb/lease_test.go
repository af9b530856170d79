package sqldb

import (
	"context"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestLease checks that one holder at a time gets a lease in a schema, that another schema of the
// same database elects its own, and that a released lease can be taken again. On SQLite the
// lease is always granted.
func TestLease(t *testing.T) {
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, d testenv.Database, db *DB) {
		l, ok, err := db.TryLease(ctx, "test-job", "budget")
		if err != nil || !ok {
			t.Fatalf("first TryLease = %v, %v; want granted", ok, err)
		}
		if err := l.Check(ctx); err != nil {
			t.Errorf("Check of a held lease: %v", err)
		}
		if d.Engine != string(Postgres) {
			l.Release()
			return
		}
		other := open(t, d) // a second replica on the same schema
		if _, ok, err := other.TryLease(ctx, "test-job", "budget"); err != nil || ok {
			t.Errorf("second TryLease in the same schema = %v, %v; want refused", ok, err)
		}
		if l2, ok, err := other.TryLease(ctx, "test-job", "vendors"); err != nil || !ok {
			t.Errorf("TryLease of another name = %v, %v; want granted", ok, err)
		} else {
			l2.Release()
		}
		elsewhere := open(t, testenv.Postgres(t)) // another schema of the same database
		if l3, ok, err := elsewhere.TryLease(ctx, "test-job", "budget"); err != nil || !ok {
			t.Errorf("TryLease in another schema = %v, %v; want granted", ok, err)
		} else {
			l3.Release()
		}
		l.Release()
		l4, ok, err := other.TryLease(ctx, "test-job", "budget")
		if err != nil || !ok {
			t.Fatalf("TryLease after Release = %v, %v; want granted", ok, err)
		}
		l4.Release()
	})
}

// TestLeaseOutsideThePool: a held lease's connection is not one of the pool's, so a pool of one
// connection (QUARTERDECK_DATABASE_MAX_CONNS=1) still serves queries while leases are held; a
// released lease's connection is closed, and the database closes once they are released.
func TestLeaseOutsideThePool(t *testing.T) {
	d := testenv.Postgres(t) // leases hold connections on PostgreSQL only
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, d.DSN, Options{Schema: d.Schema, MaxOpenConns: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var held []*Lease
	for _, name := range []string{"relay", "sealer", "scheduler"} {
		l, ok, err := db.TryLease(ctx, "test-job", name)
		if err != nil || !ok {
			t.Fatalf("TryLease %s = %v, %v; want granted", name, ok, err)
		}
		held = append(held, l)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil || n != 1 {
		t.Errorf("a query with three leases held on a pool of one = %d, %v; want 1", n, err)
	}
	for _, l := range held {
		if err := l.Check(ctx); err != nil {
			t.Errorf("Check of a held lease: %v", err)
		}
		l.Release()
	}
	// A released lease's connection is closed, not kept for the next.
	if n := db.leases.Stats().OpenConnections; n != 0 {
		t.Errorf("%d lease connections open after every lease was released; want 0", n)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
