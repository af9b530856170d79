package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

type thing struct {
	ID, Parent string
	N          int64
}

func scanThing(s sqlstore.Scanner) (thing, error) {
	var t thing
	err := s.Scan(&t.ID, &t.Parent, &t.N)
	return t, err
}

var errNoThing = errors.New("no such thing")

// forEachEngine runs fn against SQLite and, when available, PostgreSQL, on a database with the
// outbox and audit tables and three things: a and b under p, c under q.
func forEachEngine(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			raw := testkit.Open(t, d, outbox.Migrations, audit.Migrations)
			const schema = `CREATE TABLE things (id TEXT PRIMARY KEY, parent TEXT NOT NULL, n BIGINT NOT NULL);
				INSERT INTO things VALUES ('a', 'p', 1), ('b', 'p', 2), ('c', 'q', 3)`
			for stmt := range strings.SplitSeq(schema, ";") {
				if _, err := raw.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			events, err := outbox.NewFactory("quarterdeck", nil)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, sqlstore.New(raw, events))
		})
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		const get = `SELECT id, parent, n FROM things WHERE id = $1`
		if got, err := sqlstore.Get(ctx, db, "thing", errNoThing, scanThing, get, "b"); err != nil || got != (thing{"b", "p", 2}) {
			t.Errorf("Get(b) = %v, %v", got, err)
		}
		if _, err := sqlstore.Get(ctx, db, "thing", errNoThing, scanThing, get, "z"); err != errNoThing {
			t.Errorf("Get(z) error = %v, want the not-found error as it is", err)
		}
		if _, err := sqlstore.Get(ctx, db, "thing", errNoThing, scanThing, `SELECT id FROM things WHERE id = $1`, "a"); err == nil ||
			errors.Is(err, errNoThing) || !strings.HasPrefix(err.Error(), "get thing: ") {
			t.Errorf("Get with a bad scan: error = %v, want it wrapped", err)
		}

		ids := func(things []thing) []string {
			var out []string
			for _, t := range things {
				out = append(out, t.ID)
			}
			return out
		}
		const selectFrom = `SELECT id, parent, n FROM things`
		for _, tt := range []struct {
			name    string
			lq      listing.Query
			parents []sqlstore.Parent
			want    []string
		}{
			{"everything", listing.Query{OrderBy: "id ASC", Limit: 10}, nil, []string{"a", "b", "c"}},
			{"limited, descending", listing.Query{OrderBy: "id DESC", Limit: 2}, nil, []string{"c", "b"}},
			{"a parent", listing.Query{OrderBy: "id ASC", Limit: 10}, []sqlstore.Parent{{"parent", "p"}}, []string{"a", "b"}},
			{"a wildcard parent", listing.Query{OrderBy: "id ASC", Limit: 10}, []sqlstore.Parent{{"parent", sqlstore.Wildcard}}, []string{"a", "b", "c"}},
			// The parent's placeholder follows the filter's.
			{"a filter and a parent", listing.Query{Where: "n > $1", Args: []any{1}, OrderBy: "n DESC", Limit: 10},
				[]sqlstore.Parent{{"parent", "p"}}, []string{"b"}},
		} {
			got, err := sqlstore.List(ctx, db, "things", scanThing, selectFrom, &tt.lq, tt.parents...)
			if err != nil || !slices.Equal(ids(got), tt.want) {
				t.Errorf("List %s = %v, %v; want %v", tt.name, ids(got), err, tt.want)
			}
		}

		// A From's arguments follow the filter's and the parent's: a derived table of the things
		// with n at least a bound, doubled.
		from := func(first int) (string, []any) {
			return fmt.Sprintf(`SELECT id, parent, n FROM (SELECT id, parent, n * $%d AS n FROM things WHERE n >= $%d) d`, first, first+1),
				[]any{2, 2}
		}
		lq := listing.Query{Where: "n < $1", Args: []any{6}, OrderBy: "id ASC", Limit: 10}
		got, err := sqlstore.ListFrom(ctx, db, "things", scanThing, from, &lq, sqlstore.Parent{Column: "parent", Value: "p"})
		if err != nil || !slices.Equal(got, []thing{{"b", "p", 4}}) {
			t.Errorf("ListFrom = %v, %v; want b doubled", got, err)
		}

		if n, err := sqlstore.Value[int64](ctx, db, "sum", `SELECT CAST(SUM(n) AS BIGINT) FROM things`); err != nil || n != 6 {
			t.Errorf("Value(sum) = %d, %v; want 6", n, err)
		}
		if ok, err := sqlstore.Exists(ctx, db, "q", `SELECT EXISTS (SELECT 1 FROM things WHERE parent = $1)`, "q"); err != nil || !ok {
			t.Errorf("Exists(q) = %v, %v", ok, err)
		}
		if got, err := sqlstore.Strings(ctx, db, "ids", `SELECT id FROM things WHERE id IN (`+sqlstore.Placeholders(1, 2)+`) ORDER BY id`, "c", "a"); err != nil ||
			!slices.Equal(got, []string{"a", "c"}) {
			t.Errorf("Strings = %v, %v", got, err)
		}
	})
}

func TestExec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		errMapped := errors.New("mapped")
		mapErr := func(err error) error {
			if _, ok := sqldb.UniqueViolation(err); ok {
				return errMapped
			}
			return err
		}
		for _, tt := range []struct {
			name  string
			query string
			args  []any
			want  error
		}{
			{"one row", `UPDATE things SET n = n + 1 WHERE id = $1`, []any{"a"}, nil},
			{"no row", `UPDATE things SET n = n + 1 WHERE id = $1`, []any{"z"}, sqlstore.ErrConcurrentUpdate},
			{"two rows", `UPDATE things SET n = n + 1 WHERE parent = $1`, []any{"p"}, sqlstore.ErrConcurrentUpdate},
			{"a driver error, mapped", `INSERT INTO things VALUES ($1, 'p', 9)`, []any{"a"}, errMapped},
		} {
			if err := sqlstore.Exec(ctx, db, mapErr, tt.query, tt.args...); !errors.Is(err, tt.want) {
				t.Errorf("Exec %s: error = %v, want %v", tt.name, err, tt.want)
			}
		}
		if _, ok := sqldb.UniqueViolation(sqlstore.Exec(ctx, db, nil, `INSERT INTO things VALUES ('a', 'p', 9)`)); !ok {
			t.Error("Exec without mapErr did not return the driver's error as it is")
		}
	})
}

func TestDialect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		const q = `SELECT id, parent, n FROM things WHERE id = $1`
		want := q
		if db.Engine() == sqldb.Postgres {
			want = q + " FOR UPDATE"
		}
		if got := db.Dialect.ForUpdate(q); got != want {
			t.Errorf("ForUpdate = %q, want %q", got, want)
		}
		// Both statements run inside a transaction, the lock taken twice (it is re-entrant).
		err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			if _, err := sqlstore.Get(ctx, tx, "thing", errNoThing, scanThing, tx.Dialect.ForUpdate(q), "a"); err != nil {
				return err
			}
			if err := tx.Dialect.Lock(ctx, tx, "sqlstore.test"); err != nil {
				return err
			}
			return tx.Dialect.Lock(ctx, tx, "sqlstore.test")
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestDialectTime: EpochSeconds and YearMonth read a stored timestamp the same on both engines,
// the fraction of a second dropped, the month that of UTC.
func TestDialectTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		typ := "TIMESTAMP"
		if db.Engine() == sqldb.Postgres {
			typ = "TIMESTAMPTZ"
		}
		table := "times_" + strings.ReplaceAll(t.Name(), "/", "_")
		if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (at `+typ+` NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{
			time.Date(2026, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
			time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC),
			time.Date(2027, 1, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), // 2026-12-31 23:30 UTC
		} {
			if _, err := db.ExecContext(ctx, `DELETE FROM `+table); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO `+table+` VALUES ($1)`, at); err != nil {
				t.Fatal(err)
			}
			var secs, month int64
			q := `SELECT ` + db.Dialect.EpochSeconds("at") + `, ` + db.Dialect.YearMonth("at") + ` FROM ` + table
			if err := db.QueryRowContext(ctx, q).Scan(&secs, &month); err != nil {
				t.Fatal(err)
			}
			u := at.UTC()
			if secs != u.Unix() || month != int64(u.Year()*100+int(u.Month())) {
				t.Errorf("%s: EpochSeconds %d, YearMonth %d; want %d, %d", at, secs, month, u.Unix(), u.Year()*100+int(u.Month()))
			}
		}
	})
}

// TestRecord: a change's event and audit record commit with it, and roll back with it.
func TestRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		boom := errors.New("boom")
		change := func(fail bool) error {
			return db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
				if err := tx.Record(ctx, sqlstore.Change{Action: audit.Update, Resource: "costCenters/a",
					Before: &budgetv1.CostCenter{DisplayName: "A"}, After: &budgetv1.CostCenter{DisplayName: "B"},
					Event: &budgetv1.CostCenterUpdated{Version: 2}}); err != nil {
					return err
				}
				if err := tx.Emit(ctx, "costCenters/a", &budgetv1.CostCenterUpdated{Version: 3}); err != nil {
					return err
				}
				if fail {
					return boom
				}
				return nil
			})
		}
		counts := func() (events, records int64) {
			events, _, err := outbox.Pending(ctx, db.DB)
			if err != nil {
				t.Fatal(err)
			}
			records, _, err = audit.Unsealed(ctx, db.DB)
			if err != nil {
				t.Fatal(err)
			}
			return events, records
		}
		if err := change(true); !errors.Is(err, boom) {
			t.Fatalf("failed change: %v", err)
		}
		if e, r := counts(); e != 0 || r != 0 {
			t.Errorf("after a rollback: %d events, %d audit records; want none", e, r)
		}
		if err := change(false); err != nil {
			t.Fatal(err)
		}
		if e, r := counts(); e != 2 || r != 1 {
			t.Errorf("after a commit: %d events, %d audit records; want 2 and 1", e, r)
		}
	})
}

// TestEmitWritesWhenTheTransactionEnds: in a transaction of Within, Emit writes nothing until fn
// returns, and then every event of the transaction in the order it took them — across the
// statement sizes of outbox.Insert (300 = 128 + 128 + 32 + 8 + 4) — with one resource's events in
// the order of their versions. A Tx built with DB.Tx, whose transaction someone else commits,
// writes at once.
func TestEmitWritesWhenTheTransactionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		count := func(q sqlstore.Querier) int64 {
			var n int64
			if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		type row struct {
			resource string
			version  int64
		}
		var want []row
		err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			want = want[:0]
			for i := range 300 {
				r := row{resource: "costCenters/" + string(rune('a'+i%3)), version: int64(i/3 + 1)}
				want = append(want, r)
				if err := tx.Emit(ctx, r.resource, &budgetv1.CostCenterUpdated{Version: r.version}); err != nil {
					return err
				}
			}
			if n := count(tx); n != 0 {
				t.Errorf("the transaction's outbox holds %d events before fn returned; want 0", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sqlstore.All(ctx, db, "outbox", func(s sqlstore.Scanner) (row, error) {
			var r row
			return r, s.Scan(&r.resource, &r.version)
		}, `SELECT resource_name, aggregate_version FROM outbox ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("outbox in sequence order:\n%v\nwant the order of Emit:\n%v", got, want)
		}

		err = db.InTx(ctx, func(raw *sql.Tx) error {
			if err := db.Tx(raw).Emit(ctx, "costCenters/d", &budgetv1.CostCenterUpdated{Version: 1}); err != nil {
				return err
			}
			if n := count(raw); n != 301 {
				t.Errorf("after Emit on a Tx of DB.Tx the outbox holds %d events; want 301", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestRecordWakesTheRelayAndTheSealer: a commit wakes the outbox relay when it wrote an event
// (outbox.Work) and the audit sealer when it wrote an audit record (audit.Work), and neither
// when it wrote neither or rolled back.
func TestRecordWakesTheRelayAndTheSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachEngine(t, func(t *testing.T, db *sqlstore.DB) {
		var relay, sealer atomic.Int32
		db.AfterCommitOf(outbox.Work, func() { relay.Add(1) })
		db.AfterCommitOf(audit.Work, func() { sealer.Add(1) })
		boom := errors.New("boom")
		for _, c := range []struct {
			what          string
			write         func(ctx context.Context, tx *sqlstore.Tx) error
			relay, sealer int32
		}{
			{"nothing written", func(context.Context, *sqlstore.Tx) error { return nil }, 0, 0},
			{"an event", func(ctx context.Context, tx *sqlstore.Tx) error {
				return tx.Emit(ctx, "costCenters/a", &budgetv1.CostCenterUpdated{Version: 2})
			}, 1, 0},
			{"a change with its event and record", func(ctx context.Context, tx *sqlstore.Tx) error {
				return tx.Record(ctx, sqlstore.Change{Action: audit.Update, Resource: "costCenters/a",
					Before: &budgetv1.CostCenter{DisplayName: "A"}, After: &budgetv1.CostCenter{DisplayName: "B"},
					Event: &budgetv1.CostCenterUpdated{Version: 3}})
			}, 2, 1},
			{"a change rolled back", func(ctx context.Context, tx *sqlstore.Tx) error {
				if err := tx.Record(ctx, sqlstore.Change{Action: audit.Delete, Resource: "costCenters/a",
					Before: &budgetv1.CostCenter{DisplayName: "B"}, Event: &budgetv1.CostCenterDeleted{Version: 4}}); err != nil {
					return err
				}
				return boom
			}, 2, 1},
		} {
			if err := db.Within(ctx, c.write); err != nil && !errors.Is(err, boom) {
				t.Fatalf("%s: %v", c.what, err)
			}
			if relay.Load() != c.relay || sealer.Load() != c.sealer {
				t.Fatalf("after %s the relay was woken %d times and the sealer %d; want %d and %d",
					c.what, relay.Load(), sealer.Load(), c.relay, c.sealer)
			}
		}
	})
}
