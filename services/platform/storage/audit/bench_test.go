package audit_test

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// BenchmarkAppendParallel measures appends from concurrent transactions, with the sealer sealing
// behind them: the cost the audit trail adds to every mutation under contention. Appends take no
// lock, so they should scale like any insert.
func BenchmarkAppendParallel(b *testing.B) {
	for _, d := range testenv.Databases(b) {
		b.Run(d.Engine, func(b *testing.B) {
			db := open(b, d)
			ctx := context.Background()
			sealer := audit.NewSealer(db, audit.SealerOptions{Name: "bench", Logger: slog.New(slog.DiscardHandler)})
			db.AfterCommitOf(audit.Work, sealer.Notify)
			sctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- sealer.Run(sctx) }()
			defer func() {
				cancel()
				<-done
			}()
			e := entry(1)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := db.InTx(ctx, func(tx *sql.Tx) error {
						_, err := audit.Append(ctx, tx, db.Engine(), e)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
