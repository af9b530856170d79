package audit_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/testenv"
)

// BenchmarkAppendParallel measures appends from concurrent transactions, which queue on the
// chain's head: the cost the audit trail adds to every mutation under contention.
func BenchmarkAppendParallel(b *testing.B) {
	for _, d := range testenv.Databases(b) {
		b.Run(d.Engine, func(b *testing.B) {
			db := openDB(b, d)
			ctx := context.Background()
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
