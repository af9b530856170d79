// Command automation is an example of an automation on Quarterdeck's events, meant to be copied:
// it reminds a contract's owner of the cancel-by date when the notice window of an auto-renewing
// contract opens.
//
// It reads quarterdeck.vendors.contract.notice_window_opened through a durable JetStream pull
// consumer with explicit acknowledgements, decodes each event into its generated proto message,
// appends a reminder to a JSON Lines file, and acknowledges the event only once the reminder is on
// disk. Events come at least once: the reminder carries the event's id (the ce-id header), and an
// event whose id is already in the file is acknowledged without a second reminder, so a
// redelivery — after a crash between the write and the ack, or a replay — changes nothing.
//
//	go run . -nats-url nats://127.0.0.1:4222 -out reminders.jsonl
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/encoding/protojson"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
)

// config is what an operator sets with flags.
type config struct {
	NATSURL string        // the NATS server of the platform
	Prefix  string        // the platform's subject prefix (QUARTERDECK_EVENT_SUBJECT_PREFIX)
	Durable string        // the consumer's name: JetStream remembers what it acknowledged
	Out     string        // the reminders file, JSON Lines
	AckWait time.Duration // how long JetStream waits for an ack before it redelivers
}

func main() {
	var cfg config
	flag.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server of the platform")
	flag.StringVar(&cfg.Prefix, "prefix", "quarterdeck", "subject prefix of the platform's events")
	flag.StringVar(&cfg.Durable, "durable", "contract-reminders", "name of the durable consumer")
	flag.StringVar(&cfg.Out, "out", "reminders.jsonl", "file the reminders are appended to")
	flag.DurationVar(&cfg.AckWait, "ack-wait", 30*time.Second, "time to handle one event before JetStream delivers it again")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("automation stopped", "error", err)
		os.Exit(1)
	}
}

// The event this automation reacts to: its CloudEvents type, and its subject after the prefix.
const (
	eventType    = "quarterdeck.vendors.v1.ContractNoticeWindowOpened"
	eventSubject = "vendors.contract.notice_window_opened"
	domain       = "vendors"
)

// run consumes events until ctx is done.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	reminders, err := openReminders(cfg.Out)
	if err != nil {
		return err
	}
	defer reminders.Close()

	nc, err := nats.Connect(cfg.NATSURL, nats.Name(cfg.Durable),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1)) // NATS down: keep trying
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.NATSURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// One stream per domain, QUARTERDECK_VENDORS over quarterdeck.vendors.>; the consumer takes
	// only the subject it handles. DeliverAll: a new consumer starts with the events the stream
	// still holds, so nothing published before the first start is missed.
	stream := strings.ToUpper(cfg.Prefix) + "_" + strings.ToUpper(domain)
	consumerConfig := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "example automation: reminders of cancel-by dates",
		FilterSubject: cfg.Prefix + "." + eventSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    20, // then JetStream gives up on the event; see the README's dead letters
	}
	a := &automation{reminders: reminders, log: log}
	for ctx.Err() == nil {
		if err := a.consume(ctx, js, stream, consumerConfig); err != nil {
			log.Warn("not consuming; retrying", "stream", stream, "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}
	return nil
}

type automation struct {
	reminders *reminders
	log       *slog.Logger
}

// consume creates or updates the durable consumer and handles its messages one at a time until
// ctx is done (nil) or the consumer goes away (an error, and run subscribes again).
func (a *automation) consume(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := js.CreateOrUpdateConsumer(cctx, stream, cfg) // the stream appears when vendors first starts
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	it, err := c.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	a.log.Info("consuming", "stream", stream, "durable", cfg.Durable, "subject", cfg.FilterSubject)
	for {
		msg, err := it.Next()
		switch {
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return nil
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
			return err
		case err != nil:
			continue // a missed heartbeat and the like: the iterator carries on
		}
		a.handle(ctx, msg)
	}
}

// handle applies one event and acknowledges it only after its effect, or asks for it again later.
func (a *automation) handle(ctx context.Context, msg jetstream.Msg) {
	id, typ := msg.Headers().Get("ce-id"), msg.Headers().Get("ce-type")
	log := a.log.With("ce_id", id, "ce_type", typ, "ce_subject", msg.Headers().Get("ce-subject"))
	if typ != eventType || id == "" {
		// Not an event of this automation's: the consumer's filter keeps them out. Nothing to do.
		log.Warn("unexpected message; acknowledged without effect", "subject", msg.Subject())
		_ = msg.Ack()
		return
	}
	// DiscardUnknown: a newer platform may add fields to the event; this program need not know them.
	var ev vendorsv1.ContractNoticeWindowOpened
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(msg.Data(), &ev); err != nil {
		// It will never decode: stop its redelivery, and say so loudly.
		log.Error("undecodable event; terminated", "error", err)
		_ = msg.Term()
		return
	}
	written, err := a.reminders.Add(reminderOf(id, &ev))
	if err != nil {
		// The effect failed (a full disk…): not acknowledged, delivered again later.
		log.Error("reminder not written; event redelivered later", "error", err)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	// DoubleAck waits for the server to confirm the ack; if it is lost, the event comes again and
	// finds its reminder written.
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn("ack not confirmed; the event may come again", "error", err)
	}
	if written {
		log.Info("reminder written", "contract", ev.GetContract().GetName(), "cancel_by", day(ev.GetCancelByDate()))
	} else {
		log.Info("reminder already written; acknowledged again", "contract", ev.GetContract().GetName())
	}
}

// Reminder is one line of the reminders file.
type Reminder struct {
	EventID  string `json:"eventId"` // the ce-id of the event it came from
	Contract string `json:"contract"`
	Title    string `json:"title"`
	Owner    string `json:"owner,omitempty"`
	CancelBy string `json:"cancelBy"` // YYYY-MM-DD: the last day to give notice
	EndDate  string `json:"endDate"`
	Text     string `json:"text"`
}

func reminderOf(id string, ev *vendorsv1.ContractNoticeWindowOpened) Reminder {
	c := ev.GetContract()
	cancelBy, end := day(ev.GetCancelByDate()), day(c.GetEndDate())
	return Reminder{
		EventID:  id,
		Contract: c.GetName(),
		Title:    c.GetTitle(),
		Owner:    c.GetOwner(),
		CancelBy: cancelBy,
		EndDate:  end,
		Text: fmt.Sprintf("%q renews itself after %s unless notice is given by %s (%s).",
			c.GetTitle(), end, cancelBy, c.GetName()),
	}
}

// day formats a calendar date as YYYY-MM-DD.
func day(d *date.Date) string {
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}
