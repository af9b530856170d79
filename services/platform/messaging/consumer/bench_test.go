package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/procstat"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// BenchmarkApply applies b.N events, each of a resource of its own, one transaction each
// (BatchSize 1): the inbox, the version check and a one-row effect. The time per event is what
// one applier spends on an event when no batch forms (a consumer at a low rate); on PostgreSQL
// on this machine it also reports pg-cpu-µs/op, the CPU of the database's backends per event
// (from /proc). Run it with a fixed count, e.g. -benchtime 2000x.
func BenchmarkApply(b *testing.B) {
	for _, d := range testenv.Databases(b) {
		b.Run(d.Engine, func(b *testing.B) {
			e := newEnv(b, testenv.Another(b, d))
			msgs := make([]*nats.Msg, b.N)
			for i := range msgs {
				msgs[i] = e.event(newID(b), fmt.Sprintf("costCenters/c%d", i), 1)
			}
			e.publish(b, msgs...)
			b.ResetTimer()
			// The handler counts what it applied, so that the wait reads the database only at the
			// end (a count of the effects every 10 ms would be a load of its own).
			var handled atomic.Int64
			e.start(b, e.js, consumer.Settings{BatchSize: 1}, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				handled.Add(1)
				return recordEffect(ctx, tx, ev)
			})
			before := backendCPU(b, e.db)
			testkit.Eventually(b, 10*time.Minute, func() bool { return handled.Load() >= int64(b.N) && effects(b, e.db).rows == b.N })
			b.StopTimer()
			if after := backendCPU(b, e.db); after >= 0 && before >= 0 {
				b.ReportMetric(float64((after-before).Microseconds())/float64(b.N), "pg-cpu-µs/op")
			}
		})
	}
}

// backendCPU is the CPU the PostgreSQL backends of db's database have used, read from /proc: -1
// on SQLite, or when the server is not on this machine.
func backendCPU(b *testing.B, db *sqldb.DB) time.Duration {
	if db.Engine() != sqldb.Postgres {
		return -1
	}
	pids := testkit.Column[int](b, db, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	var total time.Duration
	for _, pid := range pids {
		cpu, err := procstat.CPU(pid)
		if err != nil {
			return -1
		}
		total += cpu
	}
	return total
}
