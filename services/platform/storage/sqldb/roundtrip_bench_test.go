package sqldb_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/procstat"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// BenchmarkRoundTrips measures what a round trip to PostgreSQL costs a write transaction: the
// same transaction (two inserts of different tables) through the kit as the services run it
// (InTx, one statement after another: four round trips), through the kit with ExecAll (the
// two inserts in one statement: three), through pgx's own interface (four) and as one pgx
// batch (BEGIN, the inserts and COMMIT sent together: one). Besides the time per transaction,
// one after another on one connection, it reports the CPU of this process (client-cpu-µs/op)
// and of the connection's backend (pg-cpu-µs/op, from /proc: the server must run on this
// machine) per transaction. Run it with a fixed count, e.g. -benchtime 5000x.
func BenchmarkRoundTrips(b *testing.B) {
	ctx := context.Background()
	d := testenv.Postgres(b)
	const (
		insertRow   = `INSERT INTO rt_rows (id, name, amount, created) VALUES ($1, $2, $3, $4)`
		insertEvent = `INSERT INTO rt_events (id, type, payload) VALUES ($1, $2, $3)`
	)
	payload := make([]byte, 300) // about an outbox row's event
	var id int64
	next := func() int64 { id++; return id }

	db, err := sqldb.Open(ctx, d.DSN, sqldb.Options{Schema: d.Schema, Logger: slog.New(slog.DiscardHandler), MaxOpenConns: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE rt_rows (id bigint PRIMARY KEY, name text, amount bigint, created timestamptz);
		CREATE TABLE rt_events (id bigint PRIMARY KEY, type text, payload bytea)`); err != nil {
		b.Fatal(err)
	}
	var kitPID int
	if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&kitPID); err != nil {
		b.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(d.DSN)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var pgxPID int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pgxPID); err != nil {
		b.Fatal(err)
	}

	cpu := func(b *testing.B, pid int) time.Duration {
		t, err := procstat.CPU(pid)
		if err != nil {
			b.Skipf("the CPU of process %d: %v (the server must run on this machine)", pid, err)
		}
		return t
	}
	run := func(b *testing.B, pid int, tx func(n int64) error) {
		client, backend := cpu(b, os.Getpid()), cpu(b, pid)
		b.ResetTimer()
		for range b.N {
			if err := tx(next()); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64((cpu(b, os.Getpid())-client).Microseconds())/float64(b.N), "client-cpu-µs/op")
		b.ReportMetric(float64((cpu(b, pid)-backend).Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
	b.Run("kit", func(b *testing.B) {
		run(b, kitPID, func(n int64) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, insertRow, n, "name", n*100, time.Now()); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, insertEvent, n, "created", payload)
				return err
			})
		})
	})
	b.Run("kit-execall", func(b *testing.B) {
		run(b, kitPID, func(n int64) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				return sqldb.ExecAll(ctx, tx, db.Engine(),
					sqldb.Statement{Table: "rt_rows", Query: insertRow, Args: []any{n, "name", n * 100, time.Now()}},
					sqldb.Statement{Table: "rt_events", Query: insertEvent, Args: []any{n, "created", payload}})
			})
		})
	})
	b.Run("pgx", func(b *testing.B) {
		run(b, pgxPID, func(n int64) error {
			return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, insertRow, n, "name", n*100, time.Now()); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, insertEvent, n, "created", payload)
				return err
			})
		})
	})
	b.Run("pgx-batch", func(b *testing.B) {
		run(b, pgxPID, func(n int64) error {
			batch := &pgx.Batch{}
			batch.Queue("BEGIN")
			batch.Queue(insertRow, n, "name", n*100, time.Now())
			batch.Queue(insertEvent, n, "created", payload)
			batch.Queue("COMMIT")
			return conn.SendBatch(ctx, batch).Close()
		})
	})
}
