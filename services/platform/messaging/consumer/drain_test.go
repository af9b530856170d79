package consumer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestDrainUnsubscribesBeforeItReturns drains runtimes one after another on one connection, as a
// service restarting in its process does, and checks the moment each Drain returns that the
// connection no longer holds the consumer's subscription, and that an event published right then
// reaches the next runtime at once. A drain that left its pull request on the server could have
// the server hand it that event, which no consumer would see until AckWait (a minute here) had
// passed.
func TestDrainUnsubscribesBeforeItReturns(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		nc, js := testenv.Connect(t, e.nats.URL)
		s := consumer.Settings{AckWait: time.Minute, BackoffInitial: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}
		const rounds = 10
		for round := range rounds + 1 {
			rt, err := consumer.New(e.db, js, []consumer.Spec{{Name: "budget-watch", Domain: "budget", Handler: recordEffect}},
				consumer.Options{Service: "risk", Prefix: e.prefix, Settings: s, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if err := rt.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// The event of the round before, published after its drain, is applied now.
			testkit.Eventually(t, 10*time.Second, func() error {
				if n := effects(t, e.db).distinct; n != round {
					return fmt.Errorf("round %d: %d events applied; want %d", round, n, round)
				}
				if info := e.consumerInfo(t); info == nil || info.NumWaiting == 0 {
					return fmt.Errorf("round %d: the consumer has no pull request waiting", round)
				}
				return nil
			})
			subscribed := nc.NumSubscriptions() // the consumer's, and JetStream's replies
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = rt.Drain(dctx)
			dcancel()
			if err != nil {
				t.Fatalf("round %d: drain: %v", round, err)
			}
			if n := nc.NumSubscriptions(); n != subscribed-1 {
				t.Errorf("round %d: %d subscriptions when Drain returned, %d before; want the consumer's gone", round, n, subscribed)
			}
			cancel()
			rt.Wait()
			if round < rounds {
				e.publish(t, e.event(newID(t), fmt.Sprintf("costCenters/cc-%d", round), 1))
			}
		}
	})
}
