package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// Feed publishes events of a domain as that domain's service does — written to the outbox of a
// service of the domain (without tables of its own) and relayed to NATS — for a test of another
// service's consumers that should not depend on the producing service.
type Feed struct {
	*Service
	db      *sqldb.DB
	events  *outbox.Factory
	replays atomic.Int64
}

func noTables(sqldb.Engine) fs.FS {
	return fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}
}

// StartFeed starts a feed of domain's events on a new database of db's engine.
func StartFeed(t testing.TB, db testenv.Database, domain string, opts ...Option) *Feed {
	t.Helper()
	f := &Feed{}
	f.Service = Start(t, testenv.Another(t, db), host.Service{Domain: domain, Migrations: noTables,
		Register: func(_ grpc.ServiceRegistrar, deps host.Deps) error {
			f.db, f.events = deps.DB, deps.Events
			return nil
		}}, opts...)
	return f
}

// Publish writes ev, about resource at version, to the outbox, from which the relay publishes
// it.
func (f *Feed) Publish(t testing.TB, resource string, version int64, ev proto.Message) outbox.Message {
	t.Helper()
	ctx := context.Background()
	m, err := f.events.New(ctx, ev, resource, version)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Insert(ctx, tx, m) }); err != nil {
		t.Fatal(err)
	}
	return m
}

// Redeliver publishes the first n events of the stream again, with their ce-id but a new
// message ID, so that JetStream takes them as new messages: what a replay of the stream, or a
// producer's re-publish after a lost acknowledgement, looks like to a consumer. The events
// published again are in the stream after the n first.
func (f *Feed) Redeliver(t testing.TB, n int) {
	t.Helper()
	replay := strconv.FormatInt(f.replays.Add(1), 10)
	for i, m := range f.Events(t, n) {
		msg := nats.NewMsg(m.Subject())
		msg.Data = m.Data()
		for k, v := range m.Headers() {
			msg.Header[k] = v
		}
		msg.Header.Set(events.HeaderMsgID, "again-"+replay+"-"+strconv.Itoa(i)+"-"+m.Headers().Get(events.HeaderID))
		if _, err := f.JetStream.PublishMsg(context.Background(), msg, jetstream.WithExpectStream(f.Stream())); err != nil {
			t.Fatal(err)
		}
	}
}

// WaitAcknowledged waits until the durable consumer of stream has acknowledged every message up
// to the stream sequence seq and has nothing left to deliver or acknowledge: what a test needs
// before it reads what a consumer did, or did not do, with those messages.
func WaitAcknowledged(t testing.TB, js jetstream.JetStream, stream, durable string, seq uint64) {
	t.Helper()
	Eventually(t, time.Minute, func() error {
		c, err := js.Consumer(context.Background(), stream, durable)
		if err != nil {
			return err
		}
		info, err := c.Info(context.Background())
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < seq || info.NumAckPending != 0 || info.NumPending != 0 {
			return fmt.Errorf("consumer %s acknowledged up to %d of %d; %d pending, %d unacknowledged",
				durable, info.AckFloor.Stream, seq, info.NumPending, info.NumAckPending)
		}
		return nil
	})
}
