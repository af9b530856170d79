package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"

	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// EventsDomain is the domain of the gateway's events: quarterdeck.iam.…, stream QUARTERDECK_IAM.
const EventsDomain = "iam"

// revocationPollInterval is how often the relay of a replica that leads looks for revocations
// written by another replica (on PostgreSQL one replica publishes for all): well under the
// second a revocation may take to reach every replica.
const revocationPollInterval = 200 * time.Millisecond

// EventsOptions configures StartEvents.
type EventsOptions struct {
	// DB is the gateway's database (OpenDatabase), whose outbox the relay publishes.
	DB *sqldb.DB
	// Keys is the key store on DB; its subject prefix is set to Stream's.
	Keys *Store
	// Authenticator receives the revocations of every replica.
	Authenticator *Authenticator
	NATS          *nats.Conn
	Stream        events.StreamConfig
	Logger        *slog.Logger
	MeterProvider metric.MeterProvider
}

// Events publishes the gateway's events and applies the revocations of every replica.
type Events struct {
	relay  *outbox.Relay
	cancel context.CancelFunc
	done   chan error
	cc     jetstream.ConsumeContext
}

// StartEvents starts the gateway's side of the event bus: the stream of the iam domain, the
// outbox relay that publishes the ApiKeyRevoked events the store writes, and a subscription of
// this replica to them, each of which drops the key from the Authenticator's cache. The
// subscription is an ordered consumer of new events: every replica gets every revocation; one
// made before the replica started is in the rows it reads.
func StartEvents(ctx context.Context, o EventsOptions) (*Events, error) {
	if o.DB == nil || o.Keys == nil || o.Authenticator == nil || o.NATS == nil {
		return nil, errors.New("auth: events need the database, the key store, the authenticator and NATS")
	}
	if o.Stream.Prefix == "" {
		o.Stream.Prefix = events.DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := o.Keys.SetEventPrefix(o.Stream.Prefix); err != nil {
		return nil, err
	}
	js, err := jetstream.New(o.NATS)
	if err != nil {
		return nil, fmt.Errorf("auth: jetstream: %w", err)
	}
	stream, err := events.EnsureStream(ctx, js, o.Stream, EventsDomain)
	if err != nil {
		return nil, err
	}
	subject := events.Spec{Domain: EventsDomain, Aggregate: "api_key", Action: "revoked"}.Subject(o.Stream.Prefix)
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: subscribe to %s: %w", subject, err)
	}
	log := o.Logger.With("component", "api-key-revocations")
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev iamv1.ApiKeyRevoked
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(m.Data(), &ev); err != nil {
			log.Warn("undecodable api key revocation", "error", err)
			return
		}
		id := strings.TrimPrefix(ev.GetApiKey().GetName(), "apiKeys/")
		o.Authenticator.Revoked(id)
		log.Debug("api key revoked", "key", id)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: subscribe to %s: %w", subject, err)
	}
	relay := outbox.NewRelay(o.DB, js, outbox.RelayOptions{
		Stream: events.StreamName(o.Stream.Prefix, EventsDomain), Name: "gateway",
		PollInterval: revocationPollInterval, Retention: o.Stream.RetentionOrDefault(),
		Logger: o.Logger, MeterProvider: o.MeterProvider, AtomicBatches: events.AtomicBatches(stream),
	})
	o.Keys.OnCommit(relay.Notify)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Events{relay: relay, cancel: cancel, done: make(chan error, 1), cc: cc}
	go func() { e.done <- relay.Run(rctx) }()
	return e, nil
}

// Stop publishes what is pending (until ctx is done) and stops the relay and the subscription.
func (e *Events) Stop(ctx context.Context) error {
	e.cc.Stop()
	err := e.relay.Shutdown(ctx)
	e.cancel()
	if rerr := <-e.done; rerr != nil && !errors.Is(rerr, context.Canceled) && err == nil {
		err = rerr
	}
	return err
}
