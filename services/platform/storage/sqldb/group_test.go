package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openGrouped opens a SQLite database with group commits and a table of numbered rows.
func openGrouped(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "group.db"), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if db.group == nil {
		t.Fatal("a SQLite database opened without SeparateCommits runs no group commits")
	}
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE rows (n INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// rowsIn returns the numbers in the table, read by another connection: what was committed.
func rowsIn(t *testing.T, db *DB) []int {
	t.Helper()
	return column[int](t, db, "SELECT n FROM rows ORDER BY n")
}

// column returns the values of the one column that query reads.
func column[T any](t *testing.T, db *DB, query string) []T {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func insert(tx *sql.Tx, n int) error {
	_, err := tx.Exec("INSERT INTO rows (n) VALUES (?)", n)
	return err
}

// inOneGroup runs fns as transactions that form one group: a first transaction holds the
// database until all of them wait, so the next group takes them all. It returns each one's
// error.
func inOneGroup(t *testing.T, db *DB, fns ...func(ctx context.Context, tx *sql.Tx) error) []error {
	t.Helper()
	release := make(chan struct{})
	holding := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.InTx(t.Context(), func(*sql.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[i] = errors.New("panicked")
				}
			}()
			errs[i] = db.InTx(t.Context(), func(tx *sql.Tx) error { return fn(t.Context(), tx) })
		})
		// Queue them in order, so that they run in it.
		waitQueued(t, db, i+1)
	}
	// All of them wait, and a group takes up to maxGroup: the next group is theirs.
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the holding transaction: %v", err)
	}
	return errs
}

// waitQueued waits until n transactions wait for their group.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.group.mu.Lock()
		got := len(db.group.queue)
		db.group.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions wait for a group, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitKeepsEachTransactionsOutcome checks that the transactions of one group keep
// their own outcomes: one that fails, or panics, loses its writes and returns its error; the
// others commit, and each sees what the ones before it wrote.
func TestGroupCommitKeepsEachTransactionsOutcome(t *testing.T) {
	db := openGrouped(t)
	errOwn := errors.New("the transaction's own error")
	var sawFirst atomic.Bool
	errs := inOneGroup(t, db,
		func(_ context.Context, tx *sql.Tx) error { return insert(tx, 1) },
		func(_ context.Context, tx *sql.Tx) error {
			if err := insert(tx, 2); err != nil {
				return err
			}
			return errOwn
		},
		func(_ context.Context, tx *sql.Tx) error {
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM rows WHERE n = 1").Scan(&n); err != nil {
				return err
			}
			sawFirst.Store(n == 1)
			return insert(tx, 3)
		},
		func(_ context.Context, tx *sql.Tx) error {
			if err := insert(tx, 4); err != nil {
				return err
			}
			panic("a bug in a transaction's function")
		},
		func(_ context.Context, tx *sql.Tx) error { return insert(tx, 1) }, // a duplicate of the first
		func(_ context.Context, tx *sql.Tx) error { return insert(tx, 5) },
	)
	if errs[0] != nil || errs[2] != nil || errs[5] != nil {
		t.Errorf("errors of the transactions that should commit: %v, %v, %v", errs[0], errs[2], errs[5])
	}
	if !errors.Is(errs[1], errOwn) {
		t.Errorf("the failing transaction returned %v, want its own error", errs[1])
	}
	if errs[3] == nil || errs[3].Error() != "panicked" {
		t.Errorf("the panicking transaction returned %v, want its panic", errs[3])
	}
	if !errors.Is(errs[4], ErrAlreadyExists) {
		t.Errorf("the duplicate returned %v, want ErrAlreadyExists", errs[4])
	}
	if !sawFirst.Load() {
		t.Error("a transaction did not see the write of the one before it in its group")
	}
	if got, want := rowsIn(t, db), []int{1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("committed rows %v, want %v", got, want)
	}
}

// TestGroupCommitShieldsTheGroupFromACancelledCaller checks that a caller whose context ends
// while its statement runs does not roll back its group: SQLite rolls back a whole transaction
// when a write in it is interrupted, as the driver does on a context's end.
func TestGroupCommitShieldsTheGroupFromACancelledCaller(t *testing.T) {
	db := openGrouped(t)
	var firstRuns atomic.Int32
	cancelled, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := inOneGroup(t, db,
		func(_ context.Context, tx *sql.Tx) error {
			firstRuns.Add(1)
			return insert(tx, 1)
		},
		func(_ context.Context, tx *sql.Tx) error {
			time.AfterFunc(5*time.Millisecond, cancel)
			// A write that runs for longer than that.
			if _, err := tx.ExecContext(cancelled, `INSERT INTO rows (n) WITH RECURSIVE c(x) AS
				(SELECT 1000 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT x FROM c`); err != nil {
				return err
			}
			// The next statement gets the context's error.
			_, err := tx.ExecContext(cancelled, "SELECT 1")
			return err
		},
		func(_ context.Context, tx *sql.Tx) error { return insert(tx, 2) },
	)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("errors of the other transactions: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], context.Canceled) {
		t.Errorf("the cancelled transaction returned %v, want context.Canceled", errs[1])
	}
	if n := firstRuns.Load(); n != 1 {
		t.Errorf("the first transaction ran %d times, want once (its group was not rolled back)", n)
	}
	if got, want := rowsIn(t, db), []int{1, 2}; !slices.Equal(got, want) {
		t.Errorf("committed rows %v, want %v", got, want)
	}
}

// TestGroupCommitRunsAgainAfterItsGroupFailed checks that when a group fails as a whole, its
// other transactions run again and commit once.
func TestGroupCommitRunsAgainAfterItsGroupFailed(t *testing.T) {
	db := openGrouped(t)
	var firstRuns, breakerRuns atomic.Int32
	errs := inOneGroup(t, db,
		func(_ context.Context, tx *sql.Tx) error {
			firstRuns.Add(1)
			return insert(tx, 1)
		},
		func(_ context.Context, tx *sql.Tx) error {
			// Ends SQLite's transaction under the group, once, as an error that rolls back a
			// whole transaction would.
			if breakerRuns.Add(1) == 1 {
				_, err := tx.Exec("ROLLBACK")
				return err
			}
			return insert(tx, 2)
		},
		func(_ context.Context, tx *sql.Tx) error { return insert(tx, 3) },
	)
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if n := firstRuns.Load(); n != 2 {
		t.Errorf("the first transaction ran %d times, want twice (once more after its group failed)", n)
	}
	if got, want := rowsIn(t, db), []int{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("committed rows %v, want %v", got, want)
	}
}

// TestGroupCommitSkipsACallerThatLeft checks that a transaction whose context ended while it
// waited for its group does not run.
func TestGroupCommitSkipsACallerThatLeft(t *testing.T) {
	db := openGrouped(t)
	gone, cancel := context.WithCancel(t.Context())
	var ran atomic.Bool
	release := make(chan struct{})
	holding := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.InTx(t.Context(), func(tx *sql.Tx) error {
			close(holding)
			<-release
			return insert(tx, 1)
		})
	}()
	<-holding
	second := make(chan error, 1)
	go func() {
		second <- db.InTx(gone, func(tx *sql.Tx) error {
			ran.Store(true)
			return insert(tx, 2)
		})
	}()
	waitQueued(t, db, 1)
	cancel()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("the transaction of a cancelled caller returned %v, want context.Canceled", err)
	}
	if ran.Load() {
		t.Error("the transaction of a caller that left ran")
	}
	if got, want := rowsIn(t, db), []int{1}; !slices.Equal(got, want) {
		t.Errorf("committed rows %v, want %v", got, want)
	}
}

// TestGroupCommitEndsAWaitForItself checks that a transaction that waits for another of its own
// database, which would be run by its own group after it, fails instead of waiting for ever, as
// it would fail in SQLite's busy handler.
func TestGroupCommitEndsAWaitForItself(t *testing.T) {
	db := openGrouped(t)
	db.group.waitLimit = 50 * time.Millisecond
	var inner error
	err := db.InTx(t.Context(), func(tx *sql.Tx) error {
		if err := insert(tx, 1); err != nil {
			return err
		}
		_, inner = db.ExecContext(t.Context(), "INSERT INTO rows (n) VALUES (2)")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, errGroupWait) || !IsRetryable(inner) {
		t.Errorf("the nested write returned %v, want a retryable errGroupWait", inner)
	}
	if got, want := rowsIn(t, db), []int{1}; !slices.Equal(got, want) {
		t.Errorf("committed rows %v, want %v", got, want)
	}
}

// TestGroupCommitUnderLoad runs many writers, transactions and single statements, at once and
// checks that every acknowledged write is there and that they shared commits.
func TestGroupCommitUnderLoad(t *testing.T) {
	db := openGrouped(t)
	const writers, each = 16, 50
	before := db.group.groups.Load()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				var err error
				if n%2 == 0 {
					err = db.InTx(t.Context(), func(tx *sql.Tx) error { return insert(tx, n) })
				} else {
					_, err = db.ExecContext(t.Context(), "INSERT INTO rows (n) VALUES (?)", n)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(rowsIn(t, db)); got != writers*each {
		t.Errorf("%d rows committed, want %d", got, writers*each)
	}
	if groups := db.group.groups.Load() - before; groups >= writers*each {
		t.Errorf("%d writes took %d commits: none shared one", writers*each, groups)
	}
}

// TestSeparateCommits checks that SeparateCommits opens a SQLite database without group commits.
func TestSeparateCommits(t *testing.T) {
	db, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "separate.db"),
		Options{Logger: quiet, SeparateCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.group != nil {
		t.Error("SeparateCommits: the database runs group commits")
	}
}

// BenchmarkSQLiteWrites measures transactions of a few writes each (a row, two index entries
// and a log row, as a create writes its resource and outbox) from parallel writers, with group
// commits and with a commit per transaction:
//
//	go test -run '^$' -bench SQLiteWrites -cpu 2 ./services/platform/storage/sqldb/
func BenchmarkSQLiteWrites(b *testing.B) {
	for _, separate := range []bool{false, true} {
		name := "grouped"
		if separate {
			name = "separate"
		}
		b.Run(name, func(b *testing.B) {
			db, err := Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"),
				Options{Logger: quiet, SeparateCommits: separate})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			const schema = `CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT UNIQUE, owner TEXT);
				CREATE INDEX items_owner ON items (owner);
				CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, item INTEGER, payload BLOB)`
			if _, err := db.DB.ExecContext(b.Context(), schema); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			payload := make([]byte, 512)
			b.SetParallelism(8) // 16 writers with -cpu 2, as the load harness's baseline
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					err := db.InTx(b.Context(), func(tx *sql.Tx) error {
						if _, err := tx.Exec("INSERT INTO items (id, code, owner) VALUES (?, ?, ?)",
							n, "code-"+strconv.FormatInt(n, 10), "owner-"+strconv.FormatInt(n%50, 10)); err != nil {
							return err
						}
						_, err := tx.Exec("INSERT INTO log (item, payload) VALUES (?, ?)", n, payload)
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
