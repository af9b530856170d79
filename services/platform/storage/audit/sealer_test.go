package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// runSealer runs a sealer on db, woken after every commit through db, until the test ends.
func runSealer(t testing.TB, db *sqldb.DB, opts audit.SealerOptions) *audit.Sealer {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "budget"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := audit.NewSealer(db, opts)
	db.AfterCommitOf(audit.Work, s.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sealer: %v", err)
		}
	})
	return s
}

// flush makes s seal everything committed so far, and return.
func flush(t *testing.T, s *audit.Sealer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitSealed waits until db has no unsealed record, failing after a deadline.
func waitSealed(t *testing.T, db *sqldb.DB) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		n, _, err := audit.Unsealed(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			return fmt.Errorf("%d audit records still unsealed", n)
		}
		return nil
	})
}

func verifyAll(t *testing.T, db *sqldb.DB, want int64) {
	t.Helper()
	v, err := audit.NewStore(db).Verify(context.Background())
	if err != nil || !v.Valid || v.Checked != want {
		t.Fatalf("verify = %+v, %v; want %d valid records", v, err, want)
	}
}

// untilClosed calls f with 0, 1, 2, … on a goroutine of wg until stop is closed or f fails; the
// failure goes to errs.
func untilClosed(wg *sync.WaitGroup, stop <-chan struct{}, errs chan<- error, f func(i int) error) {
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := f(i); err != nil {
				errs <- err
				return
			}
		}
	})
}

// wantDense lists the records of db and fails unless there are n, numbered 1 to n without a gap,
// of n distinct requests: no sequence given out twice, none skipped, none lost.
func wantDense(t *testing.T, db *sqldb.DB, n int) {
	t.Helper()
	rs, err := audit.NewStore(db).List(context.Background(), audit.Query{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]bool{}
	for i, r := range rs {
		if r.Sequence != int64(i+1) {
			t.Fatalf("record %d has sequence %d: not dense", i+1, r.Sequence)
		}
		requests[r.RequestID] = true
	}
	if len(rs) != n || len(requests) != n {
		t.Fatalf("%d records of %d distinct requests, want %d", len(rs), len(requests), n)
	}
}

// A running sealer seals what writers commit without being asked; until then the records are
// neither listed nor verified.
func TestSealerSealsCommittedRecords(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		appendUnsealed(t, db, 3)
		verifyAll(t, db, 0) // unsealed records are not part of the chain yet
		runSealer(t, db, audit.SealerOptions{PollInterval: time.Hour})
		waitSealed(t, db) // the first pass seals what was there
		verifyAll(t, db, 3)
		appendUnsealed(t, db, 2) // these wake it after their commits
		waitSealed(t, db)
		verifyAll(t, db, 5)
	})
}

// Records a writer committed before it crashed (no sealer ran) are sealed by the next sealer,
// in another process: here another connection pool.
func TestUnsealedRecordsOfACrashedWriterGetSealed(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		crashed := open(t, d)
		appendN(t, crashed, 2)                  // an earlier, sealed part of the chain
		appendUnsealed(t, crashed, 4)           // committed, then the process died
		if err := crashed.Close(); err != nil { // the pool goes away with the process
			t.Fatal(err)
		}
		next := open(t, d)
		if n, oldest, err := audit.Unsealed(context.Background(), next); err != nil || n != 4 || oldest.IsZero() {
			t.Fatalf("unsealed = %d, %v, %v; want 4", n, oldest, err)
		}
		runSealer(t, next, audit.SealerOptions{PollInterval: 20 * time.Millisecond})
		waitSealed(t, next)
		verifyAll(t, next, 6)
	})
}

// Two replicas on one database each run a sealer, and sealing passes outside any election race
// them too: no sequence is given out twice and the chain verifies.
func TestRacingSealersFormOneChain(t *testing.T) {
	t.Parallel()
	const writers, each = 8, 25
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		a, b := open(t, d), open(t, d)
		ctx := context.Background()
		sa := runSealer(t, a, audit.SealerOptions{PollInterval: 5 * time.Millisecond, MinInterval: time.Millisecond})
		sb := runSealer(t, b, audit.SealerOptions{PollInterval: 5 * time.Millisecond, MinInterval: time.Millisecond})
		var wg sync.WaitGroup
		errs := make(chan error, writers+2)
		for w := range writers {
			db := []*sqldb.DB{a, b}[w%2]
			wg.Go(func() {
				for i := range each {
					if err := db.InTx(ctx, func(tx *sql.Tx) error {
						_, err := audit.Append(ctx, tx, db.Engine(), entry(w*each+i))
						return err
					}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		// Sealing passes that ignore the election, as a lease lost mid-pass would.
		stop := make(chan struct{})
		var racers sync.WaitGroup
		for _, db := range []*sqldb.DB{a, b} {
			untilClosed(&racers, stop, errs, func(int) error {
				_, err := audit.SealPending(ctx, db)
				return err
			})
		}
		wg.Wait()
		close(stop)
		racers.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		flush(t, sa)
		flush(t, sb)
		if n, err := audit.SealPending(ctx, a); err != nil || n != 0 {
			t.Fatalf("after both sealers flushed, %d records were still unsealed (%v)", n, err)
		}
		verifyAll(t, a, writers*each)
		wantDense(t, b, writers*each)
	})
}

// The records of one resource appear in the order of its changes, whatever else is written at
// the same time: each change updates the resource's row (locking it until commit) before it
// appends, as the stores do.
func TestRecordsOfAResourceKeepTheOrderOfItsChanges(t *testing.T) {
	t.Parallel()
	const (
		sequential = 20 // updates of things/hot from one client
		concurrent = 4  // clients updating things/hot at the same time…
		rounds     = 10 // …this often each
		others     = 4  // clients writing other resources meanwhile
	)
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY, version BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO things (id, version) VALUES ('hot', 0)`); err != nil {
			t.Fatal(err)
		}
		sealer := runSealer(t, db, audit.SealerOptions{MinInterval: time.Millisecond})
		update := func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				var v int64
				if err := tx.QueryRowContext(ctx,
					`UPDATE things SET version = version + 1 WHERE id = 'hot' RETURNING version`).Scan(&v); err != nil {
					return err
				}
				e := entry(0)
				e.Resource, e.RequestID = "things/hot", fmt.Sprint(v)
				_, err := audit.Append(ctx, tx, db.Engine(), e)
				return err
			})
		}
		errs := make(chan error, concurrent+others+1)
		done := make(chan struct{})
		var bg sync.WaitGroup
		for o := range others {
			untilClosed(&bg, done, errs, func(i int) error {
				return db.InTx(ctx, func(tx *sql.Tx) error {
					e := entry(i)
					e.Resource = fmt.Sprintf("things/other-%d-%d", o, i)
					_, err := audit.Append(ctx, tx, db.Engine(), e)
					return err
				})
			})
		}
		for range sequential {
			if err := update(); err != nil {
				t.Fatal(err)
			}
		}
		var hot sync.WaitGroup
		for range concurrent {
			hot.Go(func() {
				for range rounds {
					if err := update(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		hot.Wait()
		close(done)
		bg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		flush(t, sealer)
		rs, err := audit.NewStore(db).List(ctx, audit.Query{Resource: "things/hot", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for i, r := range rs {
			got = append(got, r.RequestID)
			want = append(want, fmt.Sprint(i+1))
		}
		if n := sequential + concurrent*rounds; len(rs) != n || !slices.Equal(got, want) {
			t.Fatalf("records of things/hot carry versions %v, want 1…%d in order", got, n)
		}
		all, err := audit.NewStore(db).List(ctx, audit.Query{Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, db, int64(len(all)))
	})
}

// The backlog gauges report unsealed records while the sealer cannot seal, and 0 after it has.
func TestSealerMetrics(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		appendUnsealed(t, db, 3)
		// Hold what a sealing pass needs first: the head row's lock on PostgreSQL, the write
		// lock on SQLite.
		blocker, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		lock := `SELECT sequence FROM audit_chain WHERE id = 1 FOR UPDATE`
		if db.Engine() == sqldb.SQLite {
			lock = `UPDATE audit_chain SET sequence = sequence WHERE id = 1`
		}
		if _, err := blocker.ExecContext(ctx, lock); err != nil {
			t.Fatal(err)
		}
		mp, reader := testkit.MeterProvider(t)
		runSealer(t, db, audit.SealerOptions{MeterProvider: mp, PollInterval: 10 * time.Millisecond})
		m := testkit.WaitMetrics(t, reader, "budget", "the sealer leading, blocked", func(m map[string]float64) bool {
			return m[audit.MetricSealerLeaseHeld] == 1
		})
		if m[audit.MetricUnsealed] != 3 || m[audit.MetricOldestUnsealedAge] < 0 || m[audit.MetricSealed] != 0 {
			t.Fatalf("while blocked: %v", m)
		}
		if err := blocker.Rollback(); err != nil {
			t.Fatal(err)
		}
		testkit.WaitMetrics(t, reader, "budget", "the backlog sealed", func(m map[string]float64) bool {
			return m[audit.MetricUnsealed] == 0 && m[audit.MetricOldestUnsealedAge] == 0 && m[audit.MetricSealed] == 3
		})
	})
}
