package natsembed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// BenchmarkPublish measures what storing events costs a server that syncs every message
// (sync_interval: always, as the platform runs a single server), for a group of n events with
// the headers the outbox relay sets (a Nats-Msg-Id each, a 320-byte payload), two ways:
//
//   - async: each event published without waiting for the others' acknowledgements, then all
//     awaited (the relay's pipeline, for events of distinct resources);
//   - atomic: the group as one atomic batch (nats-server 2.12 and later, a stream with
//     allow_atomic): the events go out without replies and only the last, which commits the
//     batch, is answered; JetStream stores all of them or none, in order.
//
// Client and server share the process; events/s is the rate of the whole group's round.
//
//	go test -run '^$' -bench Publish -benchtime 200x ./services/platform/messaging/natsembed/
func BenchmarkPublish(b *testing.B) {
	srv, err := natsembed.Start(natsembed.Options{StoreDir: b.TempDir(), SyncAlways: true,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	nc, js := testenv.Connect(b, srv.ClientURL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"},
		Storage: jetstream.FileStorage, AllowAtomicPublish: true}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 320)
	var id int
	message := func() *nats.Msg {
		id++
		m := nats.NewMsg("bench.cost_center.created")
		m.Data = payload
		m.Header.Set(jetstream.MsgIDHeader, "event-"+strconv.Itoa(id))
		return m
	}
	for _, n := range []int{8, 16, 32, 64, 256} {
		b.Run(fmt.Sprintf("async/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				acks := make([]jetstream.PubAckFuture, n)
				for i := range acks {
					if acks[i], err = js.PublishMsgAsync(message()); err != nil {
						b.Fatal(err)
					}
				}
				for _, a := range acks {
					select {
					case <-a.Ok():
					case err := <-a.Err():
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("atomic/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				batch := "batch-" + strconv.Itoa(id)
				for i := 1; i <= n; i++ {
					m := message()
					m.Header.Set(events.HeaderBatchID, batch)
					m.Header.Set(events.HeaderBatchSequence, strconv.Itoa(i))
					if i < n {
						if err := nc.PublishMsg(m); err != nil {
							b.Fatal(err)
						}
						continue
					}
					m.Header.Set(events.HeaderBatchCommit, "1")
					r, err := nc.RequestMsg(m, 5*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					var ack batchAck
					if err := json.Unmarshal(r.Data, &ack); err != nil || ack.Error != nil || ack.Count != n {
						b.Fatalf("batch of %d answered %s (%v)", n, r.Data, err)
					}
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// batchAck is JetStream's answer to the commit of an atomic batch: the stream's acknowledgement
// with the number of events stored, or an error.
type batchAck struct {
	Error *struct {
		Code        int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
	Count int `json:"count"`
}
