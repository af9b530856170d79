// Package outbox implements the transactional outbox: a service writes its domain events into the
// outbox table in the same transaction as the change they describe, and a relay publishes them
// to NATS JetStream afterwards. A change is therefore never visible without its event, and an
// event is never published for a change that rolled back.
package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Message is one event as stored in the outbox and published to NATS.
type Message struct {
	ID               string    // ce-id and Nats-Msg-Id, a UUIDv7
	Subject          string    // NATS subject
	Type             string    // ce-type: the proto message's full name
	Source           string    // ce-source
	ResourceName     string    // ce-subject: the resource the event is about
	AggregateVersion int64     // the resource's version after the change
	Time             time.Time // ce-time, UTC
	Payload          []byte    // protojson of the event message
	TraceParent      string    // W3C trace context of the request that caused the event
	TraceState       string
}

// Factory turns domain event messages into outbox messages for one domain.
type Factory struct {
	prefix string
	now    func() time.Time
}

// NewFactory returns a factory publishing under the subject prefix. now is the clock (nil for
// time.Now).
func NewFactory(prefix string, now func() time.Time) (*Factory, error) {
	if err := events.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Factory{prefix: prefix, now: now}, nil
}

// New builds the outbox message for event, a proto message carrying the event option, about the
// resource named resource at aggregate version version. The trace context of ctx travels with it.
func (f *Factory) New(ctx context.Context, event proto.Message, resource string, version int64) (Message, error) {
	spec, err := events.SpecOf(event)
	if err != nil {
		return Message{}, err
	}
	payload, err := protojson.Marshal(event)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s: %w", spec.Type, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Message{}, fmt.Errorf("event id: %w", err)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return Message{
		ID:               id.String(),
		Subject:          spec.Subject(f.prefix),
		Type:             spec.Type,
		Source:           events.Source(spec.Domain),
		ResourceName:     resource,
		AggregateVersion: version,
		Time:             f.now().UTC().Truncate(time.Microsecond),
		Payload:          payload,
		TraceParent:      carrier.Get("traceparent"),
		TraceState:       carrier.Get("tracestate"),
	}, nil
}

// NATSMsg is m as the relay publishes it: the payload on m's subject, with the CloudEvents
// headers, Nats-Msg-Id and the stored trace context. Tests that stand in for another service
// publish its events this way too.
func (m Message) NATSMsg() *nats.Msg {
	// The header's values share one array and the map is sized for every header it may take (the
	// relay adds the expected stream, the trace the publish span's context), so that building a
	// message costs a few allocations rather than one per header.
	vals := [...]string{
		events.SpecVersion, m.ID, m.Source, m.Type, m.Time.UTC().Format(time.RFC3339Nano),
		m.ResourceName, strconv.FormatInt(m.AggregateVersion, 10), events.ContentType, m.ID,
		m.TraceParent, m.TraceState,
	}
	v := vals[:]
	one := func(i int) []string { return v[i : i+1 : i+1] }
	h := make(nats.Header, 12)
	h[events.HeaderSpecVersion] = one(0)
	h[events.HeaderID] = one(1)
	h[events.HeaderSource] = one(2)
	h[events.HeaderType] = one(3)
	h[events.HeaderTime] = one(4)
	h[events.HeaderSubject] = one(5)
	h[events.HeaderVersion] = one(6)
	h[events.HeaderContentType] = one(7)
	h[events.HeaderMsgID] = one(8)
	if m.TraceParent != "" {
		h[events.HeaderTraceParent] = one(9)
		if m.TraceState != "" {
			h[events.HeaderTraceState] = one(10)
		}
	}
	return &nats.Msg{Subject: m.Subject, Data: m.Payload, Header: h}
}

// inserts writes the outbox's rows, up to 128 in one statement.
var inserts = sqldb.NewInserts("outbox", `(event_id, subject, event_type, source, resource_name,
	aggregate_version, event_time, payload, traceparent, tracestate)`, 10)

// Work is the kind of work (sqldb.Left) a transaction that inserted outbox rows leaves for the
// relay; the host wakes the relay after such commits (sqldb.DB.AfterCommitOf).
const Work = "outbox"

// Insert writes messages into the outbox within tx, in their order: a statement's rows take
// their sequence numbers in the order of its VALUES, and the statements run in order, largest
// first. The caller commits tx together with the change the messages describe.
func Insert(ctx context.Context, tx *sql.Tx, msgs ...Message) error {
	if len(msgs) > 0 {
		sqldb.Left(tx, Work)
	}
	for _, s := range Statements(msgs...) {
		if _, err := tx.ExecContext(ctx, s.Query, s.Args...); err != nil {
			if n := len(s.Args) / 10; n > 1 {
				return fmt.Errorf("outbox insert of %d events (%s, …): %w", n, s.Args[1], err)
			}
			return fmt.Errorf("outbox insert %s: %w", s.Args[1], err)
		}
	}
	return nil
}

// Statements returns the statements Insert runs for msgs, in their order, for a caller that
// runs them with others (sqldb.ExecAll); that caller notes the work (sqldb.Left).
func Statements(msgs ...Message) []sqldb.Statement {
	out, _ := inserts.Statements(len(msgs), func(args []any, i int) ([]any, error) {
		m := msgs[i]
		return append(args, m.ID, m.Subject, m.Type, m.Source, m.ResourceName,
			m.AggregateVersion, m.Time, m.Payload, m.TraceParent, m.TraceState), nil
	})
	return out
}

// Prefix is the subject prefix the factory publishes under: the one of every domain's stream
// name (events.StreamName).
func (f *Factory) Prefix() string { return f.prefix }
