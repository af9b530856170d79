package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Limits of an Item.
const (
	// MaxKeyLength is the longest key, in bytes.
	MaxKeyLength = 512
	// MaxPayload is the largest payload, in bytes: references for the handler, not documents.
	MaxPayload = 4096
)

// ErrNotFound is returned by Get and Retry for a key that names no item (or, for Retry, no
// unfired one).
var ErrNotFound = errors.New("scheduled item not found")

// Item is a date a service declares: when Due arrives, the worker fires it through the handler
// registered for Kind.
type Item struct {
	// Key identifies the item within the service, chosen by the service so that the change that
	// moves or clears the date finds it again, e.g. "contracts/c1:notice_window". At most
	// MaxKeyLength bytes.
	Key string
	// Kind names the handler that fires the item, e.g. "notice_window".
	Kind string
	// Resource is the name of the resource the item is about, e.g. "contracts/c1";
	// CancelResource removes a resource's items.
	Resource string
	// Due is when the item fires. It is kept in UTC at microsecond precision, the precision both
	// engines store.
	Due time.Time
	// Payload is optional data for the handler, at most MaxPayload bytes. Prefer reading the
	// resource in the handler's transaction: its state then is the truth, the payload only what
	// it was when the item was scheduled.
	Payload []byte
}

func (it Item) validate() error {
	switch {
	case it.Key == "":
		return errors.New("schedule: an item needs a key")
	case len(it.Key) > MaxKeyLength:
		return fmt.Errorf("schedule %s: the key is longer than %d bytes", it.Key, MaxKeyLength)
	case it.Kind == "":
		return fmt.Errorf("schedule %s: the item needs a kind", it.Key)
	case it.Resource == "":
		return fmt.Errorf("schedule %s: the item needs a resource name", it.Key)
	case it.Due.IsZero():
		return fmt.Errorf("schedule %s: the item needs a due time", it.Key)
	case len(it.Payload) > MaxPayload:
		return fmt.Errorf("schedule %s: the payload is larger than %d bytes", it.Key, MaxPayload)
	}
	return nil
}

// storedTime is t as the table keeps it: UTC at microsecond precision. Comparing a due time with
// the stored one (is this a new date?) only works if both went through it.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Schedule declares it in the caller's transaction q, which also writes the change that sets the
// date, so that the date and the change commit together or not at all. By key:
//
//   - a new key is armed: it fires once Due arrives;
//   - an unfired item takes the new kind, resource and payload; a new due time also gives it a
//     fresh start (its failed attempts are forgotten), the same due time keeps its retry state;
//   - a fired item with a different due time is armed again: the date moved, so it fires again;
//   - a fired item with the same due time stays fired, so that a change that declares its dates
//     again (every update of a contract, say) does not fire a date twice.
//
// A due time in the past fires as soon as the worker sees it. A handler may schedule its own
// item for a later time (a daily evaluation): the item is then armed again, not marked fired.
func Schedule(ctx context.Context, q sqlstore.Querier, it Item) error {
	if err := it.validate(); err != nil {
		return err
	}
	if err := beforeChange(ctx); err != nil {
		return err
	}
	// The WHERE leaves a fired item with the same due time as it is; every SET expression reads
	// the row as it was before the update.
	const upsert = `INSERT INTO scheduled_items (item_key, kind, resource_name, due_at, next_at, payload,
		attempts, last_error, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4, $5, 0, '', $6, $6)
		ON CONFLICT (item_key) DO UPDATE SET
			kind          = excluded.kind,
			resource_name = excluded.resource_name,
			payload       = excluded.payload,
			fired_at      = NULL,
			attempts      = CASE WHEN scheduled_items.due_at = excluded.due_at THEN scheduled_items.attempts ELSE 0 END,
			last_error    = CASE WHEN scheduled_items.due_at = excluded.due_at THEN scheduled_items.last_error ELSE '' END,
			next_at       = CASE WHEN scheduled_items.due_at = excluded.due_at THEN scheduled_items.next_at ELSE excluded.due_at END,
			failed_at     = CASE WHEN scheduled_items.due_at = excluded.due_at THEN scheduled_items.failed_at ELSE NULL END,
			due_at        = excluded.due_at,
			updated_at    = excluded.updated_at
		WHERE scheduled_items.fired_at IS NULL OR scheduled_items.due_at <> excluded.due_at`
	var payload []byte
	if len(it.Payload) > 0 {
		payload = it.Payload
	}
	if _, err := q.ExecContext(ctx, upsert, it.Key, it.Kind, it.Resource, storedTime(it.Due), payload,
		storedTime(time.Now())); err != nil {
		return fmt.Errorf("schedule %s: %w", it.Key, err)
	}
	leave(q)
	return nil
}

// Work is the kind of work (sqldb.Left) a transaction that scheduled or retried an item leaves
// for the worker: the item may fall due before the one the worker waits for. The host wakes the
// worker after such commits (sqldb.DB.AfterCommitOf); cancelling an item needs no wake-up.
const Work = "scheduler"

// leave notes Work on the transaction q, a *sql.Tx or a type built on a *sqlstore.Tx.
func leave(q sqlstore.Querier) {
	switch tx := q.(type) {
	case interface{ Left(kind string) }:
		tx.Left(Work)
	case *sql.Tx:
		sqldb.Left(tx, Work)
	}
}

// Cancel removes the unfired item key in the caller's transaction: the date no longer applies.
// A fired item stays, so that declaring its date again does not fire it again. Cancelling a key
// that names no unfired item does nothing.
func Cancel(ctx context.Context, q sqlstore.Querier, key string) error {
	if err := beforeChange(ctx); err != nil {
		return err
	}
	const del = `DELETE FROM scheduled_items WHERE item_key = $1 AND fired_at IS NULL`
	if _, err := q.ExecContext(ctx, del, key); err != nil {
		return fmt.Errorf("cancel scheduled item %s: %w", key, err)
	}
	return nil
}

// CancelResource removes the unfired items of the resource named resource in the caller's
// transaction, e.g. when the resource is deleted or reaches a final state.
func CancelResource(ctx context.Context, q sqlstore.Querier, resource string) error {
	if err := beforeChange(ctx); err != nil {
		return err
	}
	const del = `DELETE FROM scheduled_items WHERE resource_name = $1 AND fired_at IS NULL`
	if _, err := q.ExecContext(ctx, del, resource); err != nil {
		return fmt.Errorf("cancel the scheduled items of %s: %w", resource, err)
	}
	return nil
}

// Retry gives the unfired item key a fresh start: its failed attempts are forgotten, and an
// item the worker gave up on is armed again, to fire at once if it is due. It is the operator's
// way back once the cause of the failures is fixed.
func Retry(ctx context.Context, q sqlstore.Querier, key string) error {
	if err := beforeChange(ctx); err != nil {
		return err
	}
	const retry = `UPDATE scheduled_items SET attempts = 0, last_error = '', failed_at = NULL,
		next_at = due_at, updated_at = $2 WHERE item_key = $1 AND fired_at IS NULL`
	res, err := q.ExecContext(ctx, retry, key, storedTime(time.Now()))
	if err != nil {
		return fmt.Errorf("retry scheduled item %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("retry scheduled item %s: %w", key, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	leave(q) // the item may be due at once
	return nil
}

// State is an item as the table holds it.
type State struct {
	Item
	// Next is when the worker takes the item up next: its due time, later after a failed attempt.
	Next time.Time
	// Fired is when the item fired, by the worker's clock; zero until then.
	Fired time.Time
	// Failed is when the worker gave up on the item after its last attempt; zero otherwise.
	Failed time.Time
	// Attempts counts the attempts at firing the item, the successful one included.
	Attempts int
	// LastError is the error of the last failed attempt ("" after a success or a new due time).
	LastError string
	// Created and Updated are when the row was written first and last, by the system clock.
	Created, Updated time.Time
}

const selectState = `SELECT item_key, kind, resource_name, due_at, payload, next_at, fired_at,
	failed_at, attempts, last_error, created_at, updated_at FROM scheduled_items`

func scanState(s sqlstore.Scanner) (State, error) {
	var (
		st            State
		fired, failed sql.NullTime
	)
	err := s.Scan(&st.Key, &st.Kind, &st.Resource, &st.Due, &st.Payload, &st.Next, &fired, &failed,
		&st.Attempts, &st.LastError, &st.Created, &st.Updated)
	st.Due, st.Next = st.Due.UTC(), st.Next.UTC()
	st.Created, st.Updated = st.Created.UTC(), st.Updated.UTC()
	st.Fired, st.Failed = sqlstore.TimeOf(fired), sqlstore.TimeOf(failed)
	return st, err
}

// Get returns the item key, fired or not, or ErrNotFound.
func Get(ctx context.Context, q sqlstore.Querier, key string) (State, error) {
	return sqlstore.Get(ctx, q, "scheduled item "+key, ErrNotFound, scanState, selectState+` WHERE item_key = $1`, key)
}

// Due counts the items that are due at now and have not fired, and returns the due time of the
// oldest of them: the worker's backlog. Items the worker gave up on are not counted (see
// Failed). Both queries read the partial index scheduled_items_due only.
func Due(ctx context.Context, q sqlstore.Querier, now time.Time) (n int64, oldest time.Time, err error) {
	now = storedTime(now)
	const count = `SELECT COUNT(*) FROM scheduled_items
		WHERE fired_at IS NULL AND failed_at IS NULL AND due_at <= $1`
	if err := q.QueryRowContext(ctx, count, now).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("scheduler backlog: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	// A column, not MIN(): SQLite returns an aggregate of a timestamp column as text.
	const first = `SELECT due_at FROM scheduled_items
		WHERE fired_at IS NULL AND failed_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT 1`
	if err := q.QueryRowContext(ctx, first, now).Scan(&oldest); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("scheduler backlog: %w", err)
	}
	return n, oldest.UTC(), nil
}

// Failed counts the unfired items the worker gave up on.
func Failed(ctx context.Context, q sqlstore.Querier) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM scheduled_items WHERE failed_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("failed scheduled items: %w", err)
	}
	return n, nil
}
