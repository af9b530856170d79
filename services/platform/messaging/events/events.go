// Package events holds what every Quarterdeck event has in common: the subject it is published
// on, its CloudEvents headers and the JetStream stream of its domain.
//
// An event is a proto message carrying the quarterdeck.event.v1.event option. Its subject is
// `<prefix>.<domain>.<aggregate>.<action>` (e.g. quarterdeck.budget.cost_center.created), its
// payload is the message as protojson, and its headers follow CloudEvents 1.0 binary mode.
package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	eventv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/event/v1"
)

// CloudEvents binary-mode headers and the other headers every event carries.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	// HeaderVersion is a CloudEvents extension attribute: the aggregate's version after the
	// change, so consumers can order events of one resource and drop stale ones without parsing
	// the payload.
	HeaderVersion     = "ce-aggregateversion"
	HeaderContentType = "Content-Type"
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
	// HeaderMsgID makes JetStream drop a second publish of the same event within the stream's
	// duplicate window; it equals ce-id.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderBatchID, HeaderBatchSequence and HeaderBatchCommit are JetStream's atomic batch
	// headers (nats-server 2.12 and later): an event the outbox relay published in a batch
	// carries the batch's id and its place in it, and the batch's last event the commit; the
	// stream keeps them with each message.
	HeaderBatchID       = "Nats-Batch-Id"
	HeaderBatchSequence = "Nats-Batch-Sequence"
	HeaderBatchCommit   = "Nats-Batch-Commit"

	SpecVersion = "1.0"
	ContentType = "application/json"
)

// DefaultPrefix is the first subject token of every event unless a deployment configures another,
// e.g. to keep staging and production apart on one NATS cluster.
const DefaultPrefix = "quarterdeck"

var (
	prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	tokenPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	pkgPattern    = regexp.MustCompile(`^quarterdeck\.([a-z][a-z0-9_]*)\.v[0-9]+$`)
)

// ValidatePrefix checks a subject prefix: one lower-case subject token.
func ValidatePrefix(prefix string) error {
	if !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("invalid event subject prefix %q: want one lower-case token such as %q", prefix, DefaultPrefix)
	}
	return nil
}

// Spec describes where an event message type is published.
type Spec struct {
	Domain    string // budget
	Aggregate string // cost_center
	Action    string // created
	Type      string // quarterdeck.budget.v1.CostCenterCreated (ce-type)
}

// Subject returns the event's subject under prefix.
func (s Spec) Subject(prefix string) string {
	return prefix + "." + s.Domain + "." + s.Aggregate + "." + s.Action
}

// ErrNotAnEvent is returned for a message without the quarterdeck.event.v1.event option.
var ErrNotAnEvent = errors.New("message is not a domain event")

// SpecOf reads the event option of msg's type.
func SpecOf(msg proto.Message) (Spec, error) {
	return SpecOfDescriptor(msg.ProtoReflect().Descriptor())
}

// SpecOfDescriptor reads the event option of a message type.
func SpecOfDescriptor(md protoreflect.MessageDescriptor) (Spec, error) {
	opt, ok := proto.GetExtension(md.Options(), eventv1.E_Event).(*eventv1.EventSpec)
	if !ok || opt == nil || opt.GetAggregate() == "" {
		return Spec{}, fmt.Errorf("%s: %w", md.FullName(), ErrNotAnEvent)
	}
	m := pkgPattern.FindStringSubmatch(string(md.ParentFile().Package()))
	if m == nil {
		return Spec{}, fmt.Errorf("%s: package %s is not quarterdeck.<domain>.v<N>", md.FullName(), md.ParentFile().Package())
	}
	if !tokenPattern.MatchString(opt.GetAggregate()) || !tokenPattern.MatchString(opt.GetAction()) {
		return Spec{}, fmt.Errorf("%s: aggregate and action must be snake_case subject tokens", md.FullName())
	}
	return Spec{Domain: m[1], Aggregate: opt.GetAggregate(), Action: opt.GetAction(), Type: string(md.FullName())}, nil
}

// Source returns the CloudEvents source of a domain's events.
func Source(domain string) string { return "/quarterdeck/" + domain }

// StreamConfig describes the JetStream stream of one domain.
type StreamConfig struct {
	// Prefix is the first subject token (DefaultPrefix unless configured).
	Prefix string `env:"EVENT_SUBJECT_PREFIX" default:"quarterdeck" help:"first token of every event subject; change it to share one NATS cluster between environments"`
	// Replicas is the stream's replication factor: 1 for one server, 3 on a cluster.
	Replicas int `env:"EVENT_STREAM_REPLICAS" default:"1" help:"JetStream replicas of each domain's event stream (3 on a NATS cluster)"`
	// MaxAge is how long events stay in the stream (0 keeps them until limits say otherwise).
	MaxAge time.Duration `env:"EVENT_MAX_AGE" default:"720h" help:"how long events stay in their stream (0: no age limit)"`
	// Duplicates is the window in which a repeated Nats-Msg-Id is dropped. The outbox keeps
	// published rows longer than this, so a re-publish after a crash is always caught.
	Duplicates time.Duration `env:"EVENT_DUPLICATE_WINDOW" default:"2m" help:"JetStream duplicate window for Nats-Msg-Id deduplication"`
	// OutboxRetention is how long a service keeps published outbox rows before pruning them (0:
	// DefaultOutboxRetention). Validate requires it to outlive the duplicate window, so that a row
	// is never gone while JetStream could still be asked to deduplicate it — e.g. after an
	// operator re-queues recent rows to re-drive a consumer.
	OutboxRetention time.Duration `env:"OUTBOX_RETENTION" default:"24h" help:"how long published outbox rows are kept before pruning; must exceed the duplicate window"`
	// AtomicBatches asks for streams that take atomic batch publishes (allow_atomic,
	// nats-server 2.12 and later), which the outbox relay then uses for backlogs: a group of
	// events stored all or none, in order, and synced once. A server before 2.12 ignores the
	// request (AtomicBatches reports what the stream took); set it only once every server of a
	// cluster runs 2.12 or later, as a server that does not know the batches cannot hold a
	// replica of a stream that takes them.
	AtomicBatches bool `env:"EVENT_ATOMIC_BATCHES" default:"false" help:"streams take atomic batch publishes, which the outbox relay uses for backlogs (every NATS server 2.12 or later)"`
}

// AtomicBatches reports whether stream takes atomic batch publishes, as its server answered
// EnsureStream: false on a server before 2.12, which ignores the setting.
func AtomicBatches(stream jetstream.Stream) bool {
	info := stream.CachedInfo()
	return info != nil && info.Config.AllowAtomicPublish
}

// DefaultOutboxRetention is the outbox retention when none is configured.
const DefaultOutboxRetention = 24 * time.Hour

// MaxReplicas is JetStream's largest replication factor.
const MaxReplicas = 5

// Validate checks the settings against each other before any server is asked: a prefix that is one
// subject token, replicas 1–5, a duplicate window no longer than the max age (JetStream's own
// rule) and an outbox retention longer than the duplicate window.
func (c StreamConfig) Validate() error {
	if err := ValidatePrefix(c.Prefix); err != nil {
		return err
	}
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		return fmt.Errorf("event stream replicas %d: want 1 to %d", c.Replicas, MaxReplicas)
	}
	if c.MaxAge < 0 || c.Duplicates < 0 || c.OutboxRetention < 0 {
		return errors.New("event max age, duplicate window and outbox retention cannot be negative")
	}
	dup, keep := c.duplicates(), c.outboxRetention()
	if c.MaxAge > 0 && dup > c.MaxAge {
		return fmt.Errorf("event duplicate window %s is longer than the event max age %s", dup, c.MaxAge)
	}
	if keep <= dup {
		return fmt.Errorf("outbox retention %s must be longer than the event duplicate window %s, "+
			"or a re-published event could escape deduplication", keep, dup)
	}
	return nil
}

func (c StreamConfig) duplicates() time.Duration {
	if c.Duplicates <= 0 {
		return DefaultDuplicates
	}
	return c.Duplicates
}

func (c StreamConfig) outboxRetention() time.Duration {
	if c.OutboxRetention <= 0 {
		return DefaultOutboxRetention
	}
	return c.OutboxRetention
}

// RetentionOrDefault is the outbox retention the relay applies.
func (c StreamConfig) RetentionOrDefault() time.Duration { return c.outboxRetention() }

// DefaultDuplicates is the JetStream default duplicate window, made explicit.
const DefaultDuplicates = 2 * time.Minute

// StreamName returns the stream of a domain: QUARTERDECK_BUDGET for the default prefix.
func StreamName(prefix, domain string) string {
	return strings.ToUpper(prefix) + "_" + strings.ToUpper(domain)
}

// EnsureStream creates the domain's stream or updates it to cfg; it is safe to call at every
// start of every replica.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig, domain string) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	replicas := cfg.Replicas
	if replicas <= 0 {
		replicas = 1
	}
	dup := cfg.duplicates()
	sc := jetstream.StreamConfig{
		Name:        StreamName(cfg.Prefix, domain),
		Description: "Quarterdeck " + domain + " domain events",
		Subjects:    []string{cfg.Prefix + "." + domain + ".>"},
		// File storage: an acknowledged event survives a server restart.
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Replicas:   replicas,
		MaxAge:     cfg.MaxAge,
		Duplicates: dup,
		Discard:    jetstream.DiscardOld,
		// Only when asked for: a stream that takes atomic batches needs every server holding it
		// to be 2.12 or later. The relay sends batches only where the stream says it takes them.
		AllowAtomicPublish: cfg.AtomicBatches,
	}
	// On a cluster the request can go unanswered — the replicas of a service start together and
	// race to create the same R3 stream while the cluster is busy — although a repeat answers at
	// once: each attempt gets ensureAttemptTimeout, and an unanswered one is repeated (the call is
	// idempotent) until ctx ends. A store the server failed to create is asked for again a few
	// times (storeFailureRetries): the server reports every file store failure, a passing one
	// included, as the same sentence and keeps the cause in its own log.
	storeFailures := 0
	for {
		actx, cancel := context.WithTimeout(ctx, ensureAttemptTimeout)
		s, err := js.CreateOrUpdateStream(actx, sc)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() == nil && isStoreFailure(err) && storeFailures < storeFailureRetries {
			storeFailures++
			t := time.NewTimer(storeFailureWait(storeFailures))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("ensure stream %s: %w", sc.Name, err)
			case <-t.C:
			}
			continue
		}
		if ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return nil, fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
}

// storeFailureRetries is how many times EnsureStream asks again for a stream whose store the
// server failed to create; storeFailureWait is the wait before the nth time (0.1 s doubling, 3.1 s
// over all five).
const storeFailureRetries = 5

var storeFailureWait = func(n int) time.Duration { return 100 * time.Millisecond << (n - 1) }

// isStoreFailure reports the server's answer when it could not create a stream's file store
// (JetStream error 10049 with the fixed description "error creating store for stream"). The same
// code with any other description, such as overlapping subjects, is a refusal that does not pass.
func isStoreFailure(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10049 &&
		strings.Contains(apiErr.Description, "error creating store")
}

// ensureAttemptTimeout bounds one attempt of EnsureStream to create or update a stream.
var ensureAttemptTimeout = 5 * time.Second
