package consumer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
)

// Dead letter states as stored; the API shows them as DeadLetter.State values.
const (
	statePending  = "PENDING"
	stateReplayed = "REPLAYED"
)

// Errors of the dead-letter methods.
var (
	ErrDeadLetterNotFound = fault.New(fault.NotFound, "DEAD_LETTER_NOT_FOUND", "the dead letter does not exist")
	ErrAlreadyReplayed    = fault.New(fault.FailedPrecondition, "DEAD_LETTER_ALREADY_REPLAYED",
		"the dead letter was already replayed")
	ErrConsumerGone = fault.New(fault.FailedPrecondition, "CONSUMER_NOT_REGISTERED",
		"the consumer of this dead letter is no longer part of the service")
	ErrServiceNotFound = fault.New(fault.NotFound, "SERVICE_NOT_FOUND", "this service is not the one named")
)

// maxErrorLen bounds the stored error text: a handler error is for an operator, not a log dump.
const maxErrorLen = 4000

const upsertDeadLetterSQL = `INSERT INTO consumer_dead_letters (id, consumer, event_id, event_type, subject,
	resource_name, aggregate_version, payload, headers, error, attempts, state, create_time)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', $12)
	ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error, attempts = excluded.attempts,
	state = 'PENDING', create_time = excluded.create_time`

// writeDeadLetter records that rn gave up on ev. The same event dead-lettered again (a
// re-published copy) updates its existing record.
func (r *Runtime) writeDeadLetter(ctx context.Context, rn *runner, ev Event, cause error, attempts int) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("dead letter id: %w", err)
	}
	headers, err := json.Marshal(ev.Header)
	if err != nil {
		return fmt.Errorf("dead letter headers: %w", err)
	}
	payload := ev.Data
	if payload == nil {
		payload = []byte{}
	}
	msg := errorText(cause)
	// To the microsecond, as PostgreSQL keeps it: SQLite keeps the same instant, so that a
	// create_time filter selects the same dead letters on both engines.
	now := time.Now().UTC().Truncate(time.Microsecond)
	// Detached from ctx so that a stop does not lose the record of a decision already taken.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// An event that could not be decoded may carry names that are not text (decode): they are
	// kept escaped, so that the record is written and the event leaves the consumer.
	_, err = r.db.ExecContext(wctx, upsertDeadLetterSQL, id.String(), rn.spec.Name, storedText(ev.ID), storedText(ev.Type),
		storedText(ev.Subject), storedText(ev.Resource), ev.Version, payload, string(headers), msg, attempts, now)
	if err != nil {
		return fmt.Errorf("record dead letter: %w", err)
	}
	return nil
}

// errorText is an error's message as a dead letter keeps it: text (storedText), of at most
// maxErrorLen bytes, cut between two characters.
func errorText(err error) string {
	msg := storedText(err.Error())
	if len(msg) > maxErrorLen {
		cut := maxErrorLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

// deadLetter is one row of consumer_dead_letters.
type deadLetter struct {
	id, consumer, eventID, eventType, subject, resource string
	version                                             int64
	payload                                             []byte
	headers, err, state, replayRequestID                string
	attempts                                            int
	created                                             time.Time
	replayed                                            sql.NullTime
}

const deadLetterColumns = `id, consumer, event_id, event_type, subject, resource_name, aggregate_version,
	payload, headers, error, attempts, state, create_time, replay_time, replay_request_id`

type scanner interface{ Scan(dest ...any) error }

func scanDeadLetter(s scanner) (deadLetter, error) {
	var d deadLetter
	err := s.Scan(&d.id, &d.consumer, &d.eventID, &d.eventType, &d.subject, &d.resource, &d.version,
		&d.payload, &d.headers, &d.err, &d.attempts, &d.state, &d.created, &d.replayed, &d.replayRequestID)
	return d, err
}

func (r *Runtime) deadLetterName(id string) string {
	return "services/" + r.opts.Service + "/deadLetters/" + id
}

func (r *Runtime) toProto(d deadLetter) *operationsv1.DeadLetter {
	// The payload as published; bytes that are not UTF-8, which a string cannot carry, as U+FFFD
	// (the stored payload, which a replay reads, keeps them).
	payload := strings.ToValidUTF8(string(d.payload), "\uFFFD")
	out := &operationsv1.DeadLetter{
		Name:       r.deadLetterName(d.id),
		Consumer:   d.consumer,
		EventId:    d.eventID,
		EventType:  d.eventType,
		Subject:    d.subject,
		Payload:    payload,
		Error:      d.err,
		Attempts:   int32(min(d.attempts, 1<<31-1)),
		CreateTime: timestamppb.New(d.created.UTC()),
	}
	switch d.state {
	case statePending:
		out.State = operationsv1.DeadLetter_STATE_PENDING
	case stateReplayed:
		out.State = operationsv1.DeadLetter_STATE_REPLAYED
	}
	if d.replayed.Valid {
		out.ReplayTime = timestamppb.New(d.replayed.Time.UTC())
	}
	return out
}

// DeadLetterSchema maps the fields of a DeadLetter that a ListDeadLetters filter may name to the
// columns of consumer_dead_letters, for filter.Compile. The state column stores the enum values
// without their STATE_ prefix.
//
// create_time compares correctly on both engines: PostgreSQL stores a TIMESTAMPTZ, and on SQLite
// the driver writes every time.Time, the stored ones and the filter's bound values alike, as text
// in one layout in UTC ("2006-01-02 15:04:05.999999999+00:00", fraction without trailing zeros),
// whose text order is time order.
var DeadLetterSchema = filter.Schema{
	"consumer":   {Column: "consumer", Type: filter.String},
	"event_type": {Column: "event_type", Type: filter.String},
	"subject":    {Column: "subject", Type: filter.String},
	"state": {Column: "state", Type: filter.Enum, Enum: map[string]any{
		operationsv1.DeadLetter_STATE_PENDING.String():  statePending,
		operationsv1.DeadLetter_STATE_REPLAYED.String(): stateReplayed,
	}},
	"create_time": {Column: "create_time", Type: filter.Timestamp},
}

// ListDeadLetters lists the service's dead letters, newest first. It has the signature of
// quarterdeck.operations.v1.OperationsService.ListDeadLetters so that the service's
// OperationsService can delegate to it.
func (r *Runtime) ListDeadLetters(ctx context.Context, req *operationsv1.ListDeadLettersRequest) (*operationsv1.ListDeadLettersResponse, error) {
	var vs []fault.Violation
	if req.GetPageSize() < 0 {
		vs = append(vs, fault.Violation{Field: "page_size", Reason: "PAGE_SIZE_NEGATIVE", Description: "must be 0 or more"})
	}
	where, args, err := filter.Compile(req.GetFilter(), DeadLetterSchema, 1)
	if fe := fault.As(err); fe != nil {
		vs = append(vs, fe.Violations...)
	} else if err != nil {
		return nil, err
	}
	if err := fault.Invalid(vs...); err != nil {
		return nil, err
	}
	if req.GetParent() != "services/"+r.opts.Service {
		return nil, ErrServiceNotFound.With("parent", req.GetParent())
	}
	size := pagetoken.Size(req.GetPageSize())
	// The checksum covers the filter: a token is refused with another filter than its own.
	checksum := pagetoken.Checksum(req)
	key, err := pagetoken.Decode(req.GetPageToken(), checksum, 1)
	if err != nil {
		return nil, err
	}
	var conds []string
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if key != nil {
		// Ids are UUIDv7: in text order, they are in creation order.
		args = append(args, key[0])
		conds = append(conds, "id < $"+strconv.Itoa(len(args)))
	}
	q := `SELECT ` + deadLetterColumns + ` FROM consumer_dead_letters`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	args = append(args, size+1)
	q += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	resp := &operationsv1.ListDeadLettersResponse{}
	var last string
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("list dead letters: %w", err)
		}
		if len(resp.DeadLetters) == size {
			resp.NextPageToken = pagetoken.Encode(checksum, last)
			break
		}
		resp.DeadLetters = append(resp.DeadLetters, r.toProto(d))
		last = d.id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return resp, nil
}

func (r *Runtime) loadDeadLetter(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (deadLetter, error) {
	d, err := scanDeadLetter(q.QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM consumer_dead_letters WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrDeadLetterNotFound.With("name", r.deadLetterName(id))
	}
	if err != nil {
		return d, fmt.Errorf("read dead letter %s: %w", id, err)
	}
	return d, nil
}

const (
	markReplayedSQL = `UPDATE consumer_dead_letters SET state = 'REPLAYED', attempts = attempts + 1,
	replay_time = $2, replay_request_id = $3 WHERE id = $1 AND state = 'PENDING'`
	markReplayFailedSQL = `UPDATE consumer_dead_letters SET error = $2, attempts = attempts + 1, replay_time = $3
	WHERE id = $1 AND state = 'PENDING'`
)

// ReplayDeadLetter runs a dead letter's event through its consumer's handler again, in one
// transaction with the inbox, so an event is never applied twice. On success the dead letter is
// REPLAYED; when the handler fails again it stays PENDING with the new error and is returned as
// such. A dead letter already replayed yields FAILED_PRECONDITION, except for a retry with the
// same request_id, which returns it. It has the signature of
// quarterdeck.operations.v1.OperationsService.ReplayDeadLetter.
func (r *Runtime) ReplayDeadLetter(ctx context.Context, req *operationsv1.ReplayDeadLetterRequest) (*operationsv1.DeadLetter, error) {
	rest, ok := strings.CutPrefix(req.GetName(), "services/")
	svc, id, ok2 := strings.Cut(rest, "/deadLetters/")
	if !ok || !ok2 || id == "" || strings.Contains(id, "/") {
		return nil, fault.Field("name", "NAME_INVALID", "want services/{service}/deadLetters/{dead_letter}")
	}
	if svc != r.opts.Service {
		return nil, ErrDeadLetterNotFound.With("name", req.GetName())
	}
	d, err := r.loadDeadLetter(ctx, r.db, id)
	if err != nil {
		return nil, err
	}
	if d.state == stateReplayed {
		if req.GetRequestId() != "" && req.GetRequestId() == d.replayRequestID {
			return r.toProto(d), nil
		}
		return nil, ErrAlreadyReplayed.With("name", req.GetName())
	}
	rn := r.specs[d.consumer]
	if rn == nil {
		return nil, ErrConsumerGone.With("consumer", d.consumer)
	}
	var h nats.Header
	if err := json.Unmarshal([]byte(d.headers), &h); err != nil {
		return nil, fmt.Errorf("dead letter %s headers: %w", id, err)
	}
	ctx, span := r.startSpan(ctx, rn, d.subject, h, "replay")
	defer span.End()
	span.SetAttributes(attribute.String("quarterdeck.dead_letter", req.GetName()))

	ev, herr := decode(d.subject, h, d.payload)
	ev.Attempt = d.attempts + 1
	if herr == nil {
		herr = r.db.InTx(ctx, func(tx *sql.Tx) error {
			outcome, err := r.applyTx(ctx, tx, rn, ev)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, markReplayedSQL, id, time.Now().UTC(), req.GetRequestId())
			if err != nil {
				return fmt.Errorf("mark dead letter replayed: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("mark dead letter replayed: %w", err)
			} else if n == 0 {
				return ErrAlreadyReplayed.With("name", req.GetName())
			}
			r.metrics.outcome(ctx, rn, outcome)
			r.log.InfoContext(ctx, "dead letter replayed", "dead_letter", req.GetName(), "outcome", outcome)
			return nil
		})
	}
	if errors.Is(herr, ErrAlreadyReplayed) {
		return nil, herr
	}
	if herr != nil {
		span.RecordError(herr)
		span.SetStatus(codes.Error, "replay failed")
		r.log.WarnContext(ctx, "dead letter replay failed", "dead_letter", req.GetName(), "error", herr)
		if _, err := r.db.ExecContext(ctx, markReplayFailedSQL, id, errorText(herr), time.Now().UTC()); err != nil {
			return nil, fmt.Errorf("record failed replay of %s: %w", id, err)
		}
	}
	d, err = r.loadDeadLetter(ctx, r.db, id)
	if err != nil {
		return nil, err
	}
	return r.toProto(d), nil
}
