package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// The scheduler at scale: many scheduler items due at the same instant, armed through the API as
// users arm them, and how late they fire.
//
// The items are the notification clocks of security breaches in the risk service: each incident's
// breach impact takes up to 20 CUSTOM clocks, and a clock's due time is its breach impact's
// awareness time plus its deadline, both given by the caller to the second. The harness declares
// incidents detected an hour before the instant T it aims at, sets their breach impacts aware from
// then with clocks of one hour, so that every clock is due at T, and follows
// `incident.notification_overdue`, which the risk service publishes from the item's firing with
// the item's due time and the time it fired. Each clock's warning (`warn_before`, 59 min 59 s)
// falls just after the awareness time, in the past, and fires while the harness arms the rest:
// it is done before T.

// clocksPerBreach is how many clocks each breach impact takes: the API's maximum.
const clocksPerBreach = 20

// clockDeadline is each clock's deadline: the shortest a CUSTOM clock may have.
const clockDeadline = time.Hour

// schedResult is the scheduler measurement.
type schedResult struct {
	path      string
	Items     int           // clocks armed, each a scheduler item due at Due
	Incidents int           // incidents declared
	Due       time.Time     // the instant every item is due
	Lead      time.Duration // from the start of the arming to Due
	Arming    time.Duration // how long declaring and arming took
	Fired     int           // overdue events received
	FireLag   loadgen.Summary
	// ReceiptLag is from the due time to the event reaching a JetStream consumer: the scheduler's
	// lag plus the outbox relay's.
	ReceiptLag loadgen.Summary
	Spread     time.Duration // from the first item's firing to the last's
}

// measureScheduler arms n items due lead from now through a, and measures their lag.
func measureScheduler(ctx context.Context, p *platform, a *grpcAPI, n int, lead time.Duration, log *slog.Logger) (schedResult, error) {
	out := schedResult{Items: n, Lead: lead}
	spec, err := events.SpecOf(&riskv1.IncidentNotificationOverdue{})
	if err != nil {
		return out, err
	}
	nc, err := nats.Connect(p.natsURL, nats.Name("quarterdeck load harness"))
	if err != nil {
		return out, fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return out, err
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamName(p.eventPrefix, spec.Domain), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{spec.Subject(p.eventPrefix)}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return out, fmt.Errorf("consumer on the risk stream: %w", err)
	}
	prefix := "incidents/s" + randomHex(3) + "-"
	type fired struct {
		due, fire, receipt time.Time
	}
	var (
		mu      sync.Mutex
		seen    = map[string]fired{}
		changed = make(chan struct{}, 1)
		bad     atomic.Int64
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		var ev riskv1.IncidentNotificationOverdue
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(m.Data(), &ev); err != nil {
			bad.Add(1)
			return
		}
		name := ev.GetIncident().GetName()
		if !strings.HasPrefix(name, prefix) {
			return
		}
		key := name + "#" + ev.GetClock().GetId()
		mu.Lock()
		if _, dup := seen[key]; !dup {
			seen[key] = fired{ev.GetDueTime().AsTime(), ev.GetFireTime().AsTime(), now}
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return out, err
	}
	defer cc.Stop()

	start := time.Now()
	due := start.Add(lead).UTC().Truncate(time.Second)
	aware := due.Add(-clockDeadline)
	out.Due, out.Incidents = due, (n+clocksPerBreach-1)/clocksPerBreach
	jobs := make([]func(context.Context) error, out.Incidents)
	for i := range jobs {
		clocks := min(clocksPerBreach, n-i*clocksPerBreach)
		id := fmt.Sprintf("%s%d", strings.TrimPrefix(prefix, "incidents/"), i)
		jobs[i] = func(ctx context.Context) error { return a.armBreach(ctx, id, aware, clocks) }
	}
	if err := runJobs(ctx, 16, jobs); err != nil {
		return out, fmt.Errorf("arming the clocks: %w", err)
	}
	out.Arming = time.Since(start)
	log.Info("scheduler: armed", "items", n, "incidents", out.Incidents, "took", out.Arming.Round(time.Millisecond), "due", due)
	if !time.Now().Before(due) {
		return out, fmt.Errorf("arming %d items took %s, past their due time %s after the start: give a longer -sched-lead",
			n, out.Arming.Round(time.Millisecond), lead)
	}

	deadline := due.Add(2 * time.Minute)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			break
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var fire, receipt []time.Duration
	var first, last time.Time
	wrongDue := 0
	for _, f := range seen {
		if !f.due.Equal(due) {
			wrongDue++
		}
		fire = append(fire, f.fire.Sub(f.due))
		receipt = append(receipt, f.receipt.Sub(f.due))
		if first.IsZero() || f.fire.Before(first) {
			first = f.fire
		}
		if f.fire.After(last) {
			last = f.fire
		}
	}
	out.Fired = len(seen)
	out.FireLag, out.ReceiptLag = loadgen.Summarize(fire), loadgen.Summarize(receipt)
	out.Spread = last.Sub(first)
	switch {
	case out.Fired < n:
		return out, fmt.Errorf("%d of %d items fired within 2 minutes of their due time", out.Fired, n)
	case wrongDue > 0:
		return out, fmt.Errorf("%d items report a due time other than %s", wrongDue, due.Format(time.RFC3339))
	case bad.Load() > 0:
		return out, fmt.Errorf("%d notification_overdue events could not be read", bad.Load())
	}
	return out, nil
}

// armBreach declares a security breach detected at aware and sets its breach impact aware from
// then with clocks CUSTOM clocks of clockDeadline.
func (g *grpcAPI) armBreach(ctx context.Context, id string, aware time.Time, clocks int) error {
	i, err := g.incidents.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: id, Incident: &riskv1.Incident{
		Title: "Load " + id, Type: riskv1.Incident_SECURITY_BREACH, Severity: riskv1.Incident_SEV3,
		Roles: &riskv1.IncidentRoles{Commander: "load@example.com"}, DetectTime: timestamppb.New(aware)}})
	if err != nil {
		return fmt.Errorf("create incident: %w", err)
	}
	b := &riskv1.BreachImpact{Name: i.GetName() + "/breachImpact", AwarenessTime: timestamppb.New(aware)}
	for c := 0; c < clocks; c++ {
		b.NotificationClocks = append(b.NotificationClocks, &riskv1.NotificationClock{
			Id: fmt.Sprintf("c%d", c), Regime: riskv1.NotificationClock_CUSTOM, Recipient: "load",
			Deadline: durationpb.New(clockDeadline), WarnBefore: durationpb.New(clockDeadline - time.Second)})
	}
	_, err = g.incidents.UpdateBreachImpact(ctx, &riskv1.UpdateBreachImpactRequest{BreachImpact: b,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"awareness_time", "notification_clocks"}}})
	if err != nil {
		return fmt.Errorf("update breach impact: %w", err)
	}
	return nil
}
