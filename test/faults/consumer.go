package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	platformconfig "github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"

	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// The consumer process: this program re-executed with roleEnv=consumer runs the platform's
// consumer runtime against the run's NATS server and its own schema of the run's database.
const (
	consumerService  = "faults"  // the consuming service's name: it prefixes the durable
	consumerName     = "effects" // the consumer's name
	consumerDurable  = consumerService + "_" + consumerName
	consumerNATSEnv  = "QUARTERDECK_FAULTS_NATS_URL"
	consumerDSNEnv   = "QUARTERDECK_FAULTS_CONSUMER_DSN"
	consumerSchemaEn = "QUARTERDECK_FAULTS_CONSUMER_SCHEMA"
	consumerWorkEnv  = "QUARTERDECK_FAULTS_CONSUMER_WORK"
)

// effectsMigrations is the consumer's own table: one row per application of an event. It has no
// unique key on event_id, so that an event applied twice shows as two rows rather than as a
// constraint violation the runtime would retry; attempt and pid say which delivery applied it.
var effectsMigrations = fstest.MapFS{
	"00001_effects.sql": {Data: []byte(`-- +goose Up
CREATE TABLE effects (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   TEXT        NOT NULL,
    resource   TEXT        NOT NULL,
    version    BIGINT      NOT NULL,
    attempt    INTEGER     NOT NULL,
    pid        INTEGER     NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX effects_event ON effects (event_id);

-- +goose Down
DROP TABLE effects;
`)},
}

// runConsumer is the child-process role: it consumes the budget events durably until SIGTERM
// (then it drains) or SIGKILL. Its settings come from QUARTERDECK_CONSUMER_* like a service's.
func runConsumer() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var settings consumer.Settings
	if _, err := platformconfig.Load(&settings, platformconfig.Options{Program: "faults-consumer"}); err != nil {
		return fmt.Errorf("consumer settings: %w", err)
	}
	db, err := sqldb.Open(ctx, os.Getenv(consumerDSNEnv), sqldb.Options{
		Schema: os.Getenv(consumerSchemaEn), MaxOpenConns: 4, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := host.MigratePlatform(ctx, db); err != nil {
		return err
	}
	if err := db.Migrate(ctx, "faults_effects_migrations", effectsMigrations); err != nil {
		return err
	}

	// The NATS server is killed and restarted under this process: keep reconnecting for ever,
	// and start even while it is down.
	nc, err := nats.Connect(os.Getenv(consumerNATSEnv), nats.Name("quarterdeck-faults-consumer"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	pid := os.Getpid()
	// The handler works for a while inside its transaction, a stand-in for a real handler's
	// queries, so that the consumer falls behind during bursts and a kill finds transactions in
	// flight and events buffered that it has not begun.
	work, err := time.ParseDuration(os.Getenv(consumerWorkEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", consumerWorkEnv, err)
	}
	spec := consumer.Spec{
		Name:   consumerName,
		Domain: "budget",
		Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO effects (event_id, resource, version, attempt, pid) VALUES ($1, $2, $3, $4, $5)`,
				ev.ID, ev.Resource, ev.Version, ev.Attempt, pid); err != nil {
				return err
			}
			if work > 0 {
				_, err := tx.ExecContext(ctx, `SELECT pg_sleep($1)`, work.Seconds())
				return err
			}
			return nil
		},
	}
	rt, err := consumer.New(db, js, []consumer.Spec{spec}, consumer.Options{
		Service: consumerService, Settings: settings, Logger: log})
	if err != nil {
		return err
	}
	if err := rt.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	log.Warn("consumer started", "pid", pid, "ack_wait", settings.AckWait.String())
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rt.Drain(dctx)
}

// consumerProc is the consumer process the program kills, pauses and restarts.
type consumerProc struct {
	proc.Child
}

func newConsumerProc(dir, natsURL, dsn, schema string, ackWait, work time.Duration) (*consumerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate this program to run the consumer: %w", err)
	}
	c := &consumerProc{}
	c.Name, c.Bin, c.Log = "consumer", self, dir+"/consumer.log"
	c.Env = []string{
		roleEnv + "=consumer",
		consumerNATSEnv + "=" + natsURL,
		consumerDSNEnv + "=" + dsn,
		consumerSchemaEn + "=" + schema,
		consumerWorkEnv + "=" + work.String(),
		// A short ack wait makes the events a killed or paused consumer held come back within
		// the run; a short backoff does the same for an event whose handler failed.
		"QUARTERDECK_CONSUMER_ACK_WAIT=" + ackWait.String(),
		"QUARTERDECK_CONSUMER_BACKOFF_INITIAL=200ms",
		"QUARTERDECK_CONSUMER_BACKOFF_MAX=2s",
		// Few events in hand at a time, so that even a consumer slowed down by the machine's other
		// work finishes its batch within the ack wait: an event then comes back only because its
		// consumer was killed or paused, not merely because it waited in the buffer.
		"QUARTERDECK_CONSUMER_MAX_ACK_PENDING=16",
	}
	return c, nil
}

// catchUp waits until the consumer has handled every event of the outbox and holds none
// unacknowledged, then stops it gracefully, so that nothing can add an effect while the
// effects are counted.
func (e *env) catchUp(ctx context.Context) error {
	if !e.consumer.Running() {
		e.sum.fail("the consumer process had exited on its own (see %s)", e.consumer.Log)
		if err := e.consumer.Start(); err != nil {
			return err
		}
	}
	nc, err := nats.Connect(e.nats.url, nats.Name("quarterdeck-faults"))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var want int64
	if err := e.pg.QueryRow(ctx, `SELECT count(*) FROM `+e.schema+`.outbox`).Scan(&want); err != nil {
		return fmt.Errorf("count outbox: %w", err)
	}
	deadline := time.Now().Add(e.cfg.CatchUpTimeout)
	for {
		var handled int64
		if err := e.pg.QueryRow(ctx, `SELECT count(*) FROM `+e.consumerSchema+`.consumer_inbox WHERE consumer = $1`,
			consumerName).Scan(&handled); err != nil {
			return fmt.Errorf("count the consumer's inbox: %w", err)
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, ierr := consumerInfo(ictx, js)
		cancel()
		if ierr == nil {
			e.sum.Deliveries, e.sum.DeliveredStreamSeq = info.Delivered.Consumer, info.Delivered.Stream
			if handled >= want && info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			if ierr != nil {
				e.sum.fail("consumer not caught up after %s: %d of %d events handled; %v", e.cfg.CatchUpTimeout, handled, want, ierr)
			} else {
				e.sum.fail("consumer not caught up after %s: %d of %d events handled, %d pending, %d unacknowledged",
					e.cfg.CatchUpTimeout, handled, want, info.NumPending, info.NumAckPending)
			}
			break // verify reports which events lack their effect
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	e.consumer.Stop(15 * time.Second)
	return ctx.Err()
}

func consumerInfo(ctx context.Context, js jetstream.JetStream) (*jetstream.ConsumerInfo, error) {
	c, err := js.Consumer(ctx, events.StreamName(events.DefaultPrefix, "budget"), consumerDurable)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", consumerDurable, err)
	}
	return c.Info(ctx)
}

// verifyConsumer compares the consumer's effects with the outbox (event id → resource and
// version): every event has exactly one effect, or is recorded in the inbox as STALE (an equal
// or newer version of its resource was applied first, which the runtime skips by design); no
// effect lacks its event.
func (e *env) verifyConsumer(ctx context.Context, outbox map[string]change) error {
	s := e.sum
	type effect struct {
		n        int
		resource string
		version  int64
	}
	effects := map[string]*effect{}
	rows, err := e.pg.Query(ctx, `SELECT event_id, resource, version, attempt FROM `+e.consumerSchema+`.effects`)
	if err != nil {
		return fmt.Errorf("read effects: %w", err)
	}
	for rows.Next() {
		var id, res string
		var v int64
		var attempt int
		if err := rows.Scan(&id, &res, &v, &attempt); err != nil {
			return err
		}
		s.EffectRows++
		if attempt > 1 {
			s.EffectsOnRedelivery++
		}
		f := effects[id]
		if f == nil {
			f = &effect{resource: res, version: v}
			effects[id] = f
		}
		f.n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read effects: %w", err)
	}
	stale := map[string]bool{}
	rows, err = e.pg.Query(ctx, `SELECT event_id FROM `+e.consumerSchema+`.consumer_inbox WHERE consumer = $1 AND outcome = 'STALE'`, consumerName)
	if err != nil {
		return fmt.Errorf("read the consumer's inbox: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		stale[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the consumer's inbox: %w", err)
	}
	if err := e.pg.QueryRow(ctx, `SELECT count(*) FROM `+e.consumerSchema+`.consumer_dead_letters`).Scan(&s.DeadLetters); err != nil {
		return fmt.Errorf("count dead letters: %w", err)
	}

	for id, c := range outbox {
		f := effects[id]
		switch {
		case f == nil && stale[id]:
			s.Stale++
		case f == nil:
			s.EffectsMissing++
			if s.EffectsMissing <= 5 {
				s.fail("consumer: event %s (%s version %d) has no effect", id, c.resource, c.version)
			}
		default:
			s.Effects++
			if f.n > 1 {
				s.EffectDuplicates += f.n - 1
				if s.EffectDuplicates <= 5 {
					s.fail("consumer: event %s (%s version %d) applied %d times", id, c.resource, c.version, f.n)
				}
			}
			if f.resource != c.resource || f.version != c.version {
				s.fail("consumer: event %s applied as %s version %d, committed as %s version %d",
					id, f.resource, f.version, c.resource, c.version)
			}
		}
	}
	for id, f := range effects {
		if _, ok := outbox[id]; !ok {
			s.EffectOrphans++
			if s.EffectOrphans <= 5 {
				s.fail("consumer: effect of event %s (%s) that is not in the outbox", id, f.resource)
			}
		}
	}
	if s.EffectsMissing > 5 {
		s.fail("consumer: %d events without an effect in all", s.EffectsMissing)
	}
	if s.EffectDuplicates > 5 {
		s.fail("consumer: %d duplicate effects in all", s.EffectDuplicates)
	}
	if s.DeadLetters > 0 {
		s.fail("consumer: %d dead letters", s.DeadLetters)
	}
	return nil
}

// awaitConsumerBusy waits, for up to 10 seconds, until the consumer holds more than one
// delivered event it has not acknowledged — one in its handler, more buffered — so that a kill
// or a pause strikes it at work rather than idle. When it
// never does (it keeps up with the load), the fault strikes anyway.
func (e *env) awaitConsumerBusy(ctx context.Context) {
	nc, err := nats.Connect(e.nats.url, nats.Name("quarterdeck-faults"))
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		ictx, cancel := context.WithTimeout(ctx, time.Second)
		info, err := consumerInfo(ictx, js)
		cancel()
		if err == nil && info.NumAckPending > 1 {
			e.sum.ConsumerBusyFaults++
			return
		}
		sleepCtx(ctx, 10*time.Millisecond) // polling interval
	}
}
