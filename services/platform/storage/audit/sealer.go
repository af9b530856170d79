package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/leader"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// SealerOptions tunes a Sealer. Zero values take the defaults in brackets.
type SealerOptions struct {
	// Name identifies the sealer in logs, metrics and the PostgreSQL advisory lock (the service
	// domain).
	Name string
	// BatchSize is how many unsealed records one transaction seals at most [500].
	BatchSize int
	// PollInterval is how often the sealer looks for records that other replicas wrote [250ms];
	// commits through this process wake it at once (Notify).
	PollInterval time.Duration
	// MinInterval is the least time between the starts of two sealing passes [50ms]: while
	// records keep arriving, the sealer waits for more of them instead of sealing each commit in
	// a transaction (and a WAL flush) of its own, which would compete with the writers it is
	// meant to free. An idle sealer woken by a commit seals at once.
	MinInterval time.Duration
	// MaxBackoff caps the wait between retries while sealing fails [5s].
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// MeterProvider receives the sealer's metrics (see sealer_metrics.go) [the global provider].
	MeterProvider metric.MeterProvider
}

// Sealer gives unsealed records their place in the hash chain: in a transaction of its own it
// takes the unsealed records in pending_id order, reads the chain's head, assigns the next
// sequences, hashes each record over its canonical encoding (which covers the sequence and the
// previous hash) and advances the head. Business transactions therefore never wait for each
// other on the chain; records appear in lists and in the verifier a moment after their commit.
//
// On PostgreSQL, replicas of a service elect one active sealer through an advisory lock scoped to
// the schema, as the outbox relay does. Each sealing transaction also locks the head row, so that
// two sealers that both believe they lead (a lease lost mid-pass) still never give out a sequence
// twice: the second waits for the first to commit and then reads what it left.
type Sealer struct {
	db      *sqldb.DB
	opts    SealerOptions
	log     *slog.Logger
	loop    *leader.Loop
	metrics *queuegauge.Set
}

// NewSealer returns a sealer for the audit trail of db, a database migrated with Migrations.
func NewSealer(db *sqldb.DB, opts SealerOptions) *Sealer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.MinInterval <= 0 {
		opts.MinInterval = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Sealer{db: db, opts: opts, log: opts.Logger.With("component", "audit-sealer", "sealer", opts.Name)}
	s.loop = leader.New(db, leader.Config{
		What: "audit sealer", Kind: "quarterdeck-audit-sealer", Name: opts.Name,
		Pass: s.seal, BatchSize: opts.BatchSize, Failed: "sealing audit records failed; retrying",
		PollInterval: opts.PollInterval, StandbyPolls: 4, MinInterval: opts.MinInterval,
		FirstBackoff: 50 * time.Millisecond, MaxBackoff: opts.MaxBackoff, Logger: s.log,
	})
	return s
}

// Notify wakes the sealer because records may have been committed. It never blocks; register it
// with sqldb.DB.AfterCommitOf for Work.
func (s *Sealer) Notify() { s.loop.Notify() }

// Run seals until ctx is cancelled or Shutdown has sealed what was pending. It returns nil on a
// normal stop.
func (s *Sealer) Run(ctx context.Context) error {
	m, err := newSealerMetrics(s)
	if err != nil {
		s.log.Warn("audit sealer runs without metrics", "error", err)
	}
	s.metrics = m
	defer m.Close()
	return s.loop.Run(ctx)
}

// Shutdown asks Run to seal what is pending and return. It waits until Run has returned or ctx is
// done; the caller cancels Run's context afterwards in either case. A standby sealer (another
// replica leads) returns at once: the leader seals.
func (s *Sealer) Shutdown(ctx context.Context) error {
	if err := s.loop.Shutdown(ctx); err != nil {
		return fmt.Errorf("audit sealer %s: flush: %w", s.opts.Name, err)
	}
	return nil
}

// seal is one pass of the sealer.
func (s *Sealer) seal(ctx context.Context) (int, error) {
	n, err := sealBatch(ctx, s.db, s.opts.BatchSize)
	if err == nil && n > 0 {
		s.metrics.Add(ctx, MetricSealed, int64(n))
	}
	return n, err
}

// SealPending seals every record committed unsealed before the call, in batches, and returns how
// many it sealed. It is safe next to a running Sealer (the head lock orders them) and is what
// tests and tools call to see the trail without waiting for the sealer.
func SealPending(ctx context.Context, db *sqldb.DB) (int, error) {
	const batch = 500
	total := 0
	for {
		n, err := sealBatch(ctx, db, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

const (
	// The head row is locked by sealers only; appenders never touch it. Under READ COMMITTED the
	// select of unsealed rows that follows takes its snapshot after the lock is granted, so a
	// sealer that waited for another sees the rows that one sealed as sealed.
	selectHeadForUpdate = `SELECT sequence, hash FROM audit_chain WHERE id = 1 FOR UPDATE`
	selectUnsealed      = `SELECT pending_id, actor, method, resource, action, request_id, trace_id,
		create_time, changes FROM audit_records WHERE sequence IS NULL ORDER BY pending_id LIMIT $1`
	sealRecord  = `UPDATE audit_records SET sequence = $1, previous_hash = $2, hash = $3 WHERE pending_id = $4`
	advanceHead = `UPDATE audit_chain SET sequence = $1, hash = $2 WHERE id = 1`
)

// sealBatch seals up to limit unsealed records in one transaction and returns how many. The
// transaction leaves no work (sqldb.Left), so its commit wakes no one.
func sealBatch(ctx context.Context, db *sqldb.DB, limit int) (int, error) {
	var n int
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = sealIn(ctx, db.Engine(), tx, limit)
		return err
	})
	if errors.Is(err, errNothingToSeal) {
		return 0, nil
	}
	return n, err
}

// errNothingToSeal ends a sealer's transaction that found no record to seal.
var errNothingToSeal = errors.New("no audit record to seal")

// sealIn seals up to limit unsealed records in tx and returns how many.
func sealIn(ctx context.Context, engine sqldb.Engine, tx *sql.Tx, limit int) (int, error) {
	head := selectHead // SQLite: the transaction began IMMEDIATE and is the only writer
	if engine == sqldb.Postgres {
		head = selectHeadForUpdate
	}
	var prev Record
	if err := tx.QueryRowContext(ctx, head).Scan(&prev.Sequence, &prev.Hash); err != nil {
		return 0, fmt.Errorf("audit chain head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, selectUnsealed, limit)
	if err != nil {
		return 0, fmt.Errorf("read unsealed audit records: %w", err)
	}
	type sealed struct {
		pendingID int64
		r         Record
	}
	var batch []sealed
	for rows.Next() {
		var (
			p   sealed
			raw string
		)
		if err := rows.Scan(&p.pendingID, &p.r.Actor, &p.r.Method, &p.r.Resource, &p.r.Action, &p.r.RequestID,
			&p.r.TraceID, &p.r.CreateTime, &raw); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read unsealed audit record: %w", err)
		}
		p.r.CreateTime = p.r.CreateTime.UTC()
		// The hash covers the changes as the verifier will read them back from the column.
		if p.r.Changes, err = decodeChanges(raw); err != nil {
			rows.Close()
			return 0, fmt.Errorf("unsealed audit record %d: changes: %w", p.pendingID, err)
		}
		batch = append(batch, p)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("read unsealed audit records: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read unsealed audit records: %w", err)
	}
	if len(batch) == 0 {
		return 0, errNothingToSeal
	}
	for i := range batch {
		r := &batch[i].r
		r.Sequence = prev.Sequence + 1
		r.PreviousHash = prev.Hash
		r.Hash = Hash(*r)
		prev = *r
	}
	if engine == sqldb.Postgres {
		// One statement for the batch: a round trip per record would make the sealer the
		// bottleneck it replaces.
		var b strings.Builder
		args := make([]any, 0, 4*len(batch))
		b.WriteString(`UPDATE audit_records AS r SET sequence = v.sequence, previous_hash = v.previous_hash,
			hash = v.hash FROM (VALUES `)
		for i, p := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			k := 4 * i
			fmt.Fprintf(&b, "($%d::bigint, $%d::bigint, $%d::text, $%d::text)", k+1, k+2, k+3, k+4)
			args = append(args, p.pendingID, p.r.Sequence, p.r.PreviousHash, p.r.Hash)
		}
		b.WriteString(`) AS v(pending_id, sequence, previous_hash, hash) WHERE r.pending_id = v.pending_id`)
		res, err := tx.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return 0, fmt.Errorf("seal audit records %d to %d: %w", batch[0].r.Sequence, prev.Sequence, err)
		}
		if got, err := res.RowsAffected(); err == nil && got != int64(len(batch)) {
			return 0, fmt.Errorf("seal audit records %d to %d: %d rows updated, want %d",
				batch[0].r.Sequence, prev.Sequence, got, len(batch))
		}
	} else {
		// The connection keeps the statement prepared (sqldb's statement cache).
		for _, p := range batch {
			if _, err := tx.ExecContext(ctx, sealRecord, p.r.Sequence, p.r.PreviousHash, p.r.Hash, p.pendingID); err != nil {
				return 0, fmt.Errorf("seal audit record %d: %w", p.r.Sequence, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, advanceHead, prev.Sequence, prev.Hash); err != nil {
		return 0, fmt.Errorf("audit chain head: %w", err)
	}
	return len(batch), nil
}

// Unsealed reports how many committed records wait for the sealer and when the oldest of them
// was appended.
func Unsealed(ctx context.Context, db *sqldb.DB) (count int64, oldest time.Time, err error) {
	if err := db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM audit_records WHERE sequence IS NULL`).Scan(&count); err != nil {
		return 0, time.Time{}, fmt.Errorf("unsealed audit records: %w", err)
	}
	if count == 0 {
		return 0, time.Time{}, nil
	}
	var t sql.NullTime
	if err := db.QueryRowContext(ctx,
		`SELECT create_time FROM audit_records WHERE sequence IS NULL ORDER BY pending_id LIMIT 1`).Scan(&t); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("unsealed audit records: %w", err)
	}
	return count, t.Time.UTC(), nil
}
