// Package idempotency makes Create and other non-idempotent methods safe to retry (AIP-155). A
// request carries a client-chosen request_id; the first execution stores that ID in the same
// transaction as its change, with a hash of the request and the response. A retry with the same
// ID and the same request gets the stored response back without executing again; the same ID
// with a different request is refused with REQUEST_ID_REUSED.
//
// Concurrent duplicates execute once: on PostgreSQL the second transaction's insert of the same
// primary key waits until the first commits (then finds the stored response) or rolls back (then
// executes itself); on SQLite writing transactions run one at a time.
//
// IDs are kept for Retention and then deleted by Prune, which the host runs periodically.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Retention is how long a request ID is remembered: a retry within it is answered from the
// stored response; after it, the ID may be pruned and would execute again.
const Retention = 24 * time.Hour

// ReasonReused is the ErrorInfo and field violation reason of a reused request ID.
const ReasonReused = "REQUEST_ID_REUSED"

// ErrReused is returned when a request ID comes back with a different request.
var ErrReused = &fault.Error{
	Kind:    fault.InvalidArgument,
	Reason:  ReasonReused,
	Message: "the request_id was already used for a different request",
	Violations: []fault.Violation{{Field: "request_id", Reason: ReasonReused,
		Description: "use a new request_id for a new request; reuse one only to retry the same request"}},
}

// Querier is what Do needs of the caller's transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// The statements are the same on both engines.
const (
	claim = `INSERT INTO request_ids (request_id, method, request_hash, create_time)
		VALUES ($1, $2, $3, $4) ON CONFLICT (request_id) DO NOTHING`
	complete = `UPDATE request_ids SET response = $2 WHERE request_id = $1`
	lookup   = `SELECT request_hash, response FROM request_ids WHERE request_id = $1`
	prune    = `DELETE FROM request_ids WHERE create_time < $1`
)

// Do runs fn at most once per request ID, inside the caller's transaction q, and returns its
// response. method is the full gRPC method name; req is the request, whose request_id field is
// left out of its hash. With an empty requestID, Do just calls fn. When the ID was seen before,
// Do returns the stored response if req is the same request (same caller, method and fields), and
// ErrReused otherwise: one caller never receives the response stored for another. An error of fn is returned as is; the caller's transaction then rolls back
// and takes the claim on the ID with it.
func Do[T proto.Message](ctx context.Context, q Querier, requestID, method string, req proto.Message, fn func() (T, error)) (T, error) {
	var zero T
	if requestID == "" {
		return fn()
	}
	hash, err := Hash(identity.Actor(ctx), method, req)
	if err != nil {
		return zero, err
	}
	res, err := q.ExecContext(ctx, claim, requestID, method, hash, time.Now().UTC())
	if err != nil {
		return zero, fmt.Errorf("claim request id %s: %w", requestID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return zero, fmt.Errorf("claim request id %s: %w", requestID, err)
	} else if n == 0 {
		return replay[T](ctx, q, requestID, hash)
	}
	resp, err := fn()
	if err != nil {
		return zero, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		return zero, fmt.Errorf("store response of request %s: %w", requestID, err)
	}
	if d, ok := q.(Deferrer); ok {
		err = d.Defer(ctx, "request_ids", complete, requestID, b)
	} else {
		_, err = q.ExecContext(ctx, complete, requestID, b)
	}
	if err != nil {
		return zero, fmt.Errorf("store response of request %s: %w", requestID, err)
	}
	return resp, nil
}

// Deferrer is a Querier that can put a write off until the end of its transaction, so that it
// goes to the database with the transaction's other closing writes (sqlstore.Tx.Defer). Do
// stores a response that way when it can: nothing in the transaction reads it back.
type Deferrer interface {
	Defer(ctx context.Context, table, query string, args ...any) error
}

func replay[T proto.Message](ctx context.Context, q Querier, requestID string, hash []byte) (T, error) {
	var (
		zero   T
		stored []byte
		resp   []byte
	)
	if err := q.QueryRowContext(ctx, lookup, requestID).Scan(&stored, &resp); err != nil {
		return zero, fmt.Errorf("look up request id %s: %w", requestID, err)
	}
	if !bytes.Equal(stored, hash) {
		return zero, ErrReused.With("request_id", requestID)
	}
	// The claim and its response commit together, so a visible claim has its response (an empty
	// message may read back as NULL).
	out := zero.ProtoReflect().Type().New().Interface().(T)
	if err := proto.Unmarshal(resp, out); err != nil {
		return zero, fmt.Errorf("read stored response of request %s: %w", requestID, err)
	}
	return out, nil
}

// Hash returns the fingerprint of a request: the caller (identity.Actor), the method and the
// request's fields except request_id, so that a retry matches however the client serialised it.
func Hash(actor, method string, req proto.Message) ([]byte, error) {
	c := proto.Clone(req)
	m := c.ProtoReflect()
	if fd := m.Descriptor().Fields().ByName("request_id"); fd != nil {
		m.Clear(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("hash request: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(actor))
	h.Write([]byte{0})
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil), nil
}

// Prune deletes the request IDs stored before before and returns how many it deleted.
func Prune(ctx context.Context, db *sqldb.DB, before time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, prune, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("prune request ids: %w", err)
	}
	return res.RowsAffected()
}

// RunPruner deletes request IDs older than Retention every interval until ctx ends. A failed
// pass is logged and retried at the next one. Several replicas pruning the same database is
// harmless.
func RunPruner(ctx context.Context, db *sqldb.DB, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := Prune(ctx, db, time.Now().Add(-Retention))
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			log.WarnContext(ctx, "pruning request ids failed", "error", err)
		case n > 0:
			log.InfoContext(ctx, "request ids pruned", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Request is a request that carries an AIP-155 request_id.
type Request interface {
	proto.Message
	GetRequestId() string
}

// InTx runs fn in one transaction that within opens, at most once per request ID of req: a
// client that retries after a lost response gets the committed call's response back instead of a
// second change. The claim on the ID is written in fn's transaction, so a failed call releases
// it. method is the full gRPC method name, which keeps one ID from answering another method.
// within is a service store's transaction runner (its Within method); its transactions must
// offer the request-ID table (Requests).
func InTx[T proto.Message, Tx interface{ Requests() Querier }](ctx context.Context,
	within func(context.Context, func(context.Context, Tx) error) error,
	method string, req Request, fn func(ctx context.Context, tx Tx) (T, error)) (T, error) {
	var out T
	err := within(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out, err = Do(ctx, tx.Requests(), req.GetRequestId(), method, req, func() (T, error) { return fn(ctx, tx) })
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
