package sqldb

import (
	"context"
	"testing"

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
