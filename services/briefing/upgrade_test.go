package briefing

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/testing/protocmp"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// startOn is start on the NATS server ns (a new one when ns is zero), as a second start of a
// service on the same database and streams after a stop; the service logs to logs.
func startOn(t *testing.T, db testenv.Database, ns testenv.NATS, logs *testkit.Buffer) *env {
	t.Helper()
	opts := []testkit.Option{testkit.WithHostOptions(func(o *host.Options) {
		o.Clock = clock.NewFake(today)
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})}
	if ns.URL != "" {
		opts = append(opts, testkit.WithNATS(ns))
	}
	s := testkit.Start(t, db, Service(), opts...)
	return &env{Service: s, client: briefingv1.NewBriefingServiceClient(s.Conn)}
}

// stop stops the service, as for an upgrade of its binary.
func (e *env) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// storedVersion is the version of the code that built the model in db, as stored.
func storedVersion(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT version FROM briefing_model_version`)[0]
}

// olderModel makes the stopped service's model one of an older binary — its version, and none of
// the SLA breaches its code did not apply — and returns its database.
func olderModel(t *testing.T, e *env) *sqldb.DB {
	t.Helper()
	db := e.DB(t)
	for _, q := range []string{
		fmt.Sprintf(`UPDATE briefing_model_version SET version = %d`, model.Version-1),
		`DELETE FROM briefing_sla_breaches`,
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// durables returns when each of the briefing's JetStream durables was created: a rebuild deletes
// them and the consumers create them anew.
func (e *env) durables(t *testing.T) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for _, d := range Domains {
		c, err := e.JetStream.Consumer(context.Background(), events.StreamName(e.NATS.SubjectPrefix, d), Domain+"_"+d)
		if err != nil {
			t.Fatalf("durable of %s: %v", d, err)
		}
		out[d] = c.CachedInfo().Created
	}
	return out
}

// TestModelRebuiltAfterUpgrade starts the service on a model built by an older binary — one that
// recorded an older model version and never filled a table a later migration added (the SLA
// breaches) — and finds the model rebuilt from the streams at the start: the table filled, the
// current version recorded, the model and the briefing equal to the ones built live.
func TestModelRebuiltAfterUpgrade(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var logs testkit.Buffer
		e := startOn(t, db, testenv.NATS{}, &logs)
		h := company()
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, 0, len(h.events))
		live := e.caughtUp(t, h)
		liveModel := modelOf(t, e)
		if len(liveModel.SLABreaches) == 0 {
			t.Fatal("no SLA breach in the live model")
		}
		e.stop(t)

		old := olderModel(t, e)

		// The upgrade: the service starts again on the same database and streams.
		var upgraded testkit.Buffer
		e = startOn(t, db, e.NATS, &upgraded)
		// A read at once, most likely before the rebuild, is of the old model. The briefing kept
		// from it must not be taken for current once the rebuilt model has applied the same
		// events.
		if _, err := e.client.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing"}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, time.Minute, func() error {
			if v := storedVersion(t, old); v != model.Version {
				return fmt.Errorf("model version %d stored; want %d", v, model.Version)
			}
			if diff := cmp.Diff(liveModel, modelOf(t, e)); diff != "" {
				return fmt.Errorf("rebuilt model differs from the live one (-live +rebuilt):\n%s", diff)
			}
			return nil
		})
		rebuilt := e.caughtUp(t, h)
		if diff := cmp.Diff(comparable(live), comparable(rebuilt), protocmp.Transform()); diff != "" {
			t.Errorf("rebuilt briefing differs from the live one (-live +rebuilt):\n%s", diff)
		}
		for _, want := range []string{"level=WARN", "rebuilding it from the streams",
			fmt.Sprintf("stored_model_version=%d model_version=%d", model.Version-1, model.Version)} {
			if !strings.Contains(upgraded.String(), want) {
				t.Errorf("the upgraded service's log lacks %q:\n%s", want, upgraded.String())
			}
		}
	})
}

// TestModelNotRebuiltWhenCurrent starts the service on an empty model over streams that already
// hold events (the briefing added to a running deployment), then again on the model it built: it
// records the current model version at the first start and rebuilds at neither — no rebuild
// logged, the durables and the inbox kept.
func TestModelNotRebuiltWhenCurrent(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		h := company()
		h.publish(t, js, ns.SubjectPrefix, 0, len(h.events))

		var first testkit.Buffer
		e := startOn(t, db, ns, &first)
		check := e.DB(t)
		// Recorded at the start, before the consumers ran.
		if v := storedVersion(t, check); v != model.Version {
			t.Errorf("model version %d stored after the first start; want %d", v, model.Version)
		}
		e.caughtUp(t, h)
		durables := e.durables(t)
		inbox := testkit.Column[int64](t, check, `SELECT COUNT(*) FROM consumer_inbox`)[0]
		e.stop(t)

		var second testkit.Buffer
		e = startOn(t, db, ns, &second)
		n := len(h.events)
		h.costCenter("data", 60000, 0, 5000)
		h.publish(t, js, ns.SubjectPrefix, n, len(h.events))
		e.caughtUp(t, h)
		if got := e.durables(t); !cmp.Equal(durables, got) {
			t.Errorf("durables created %v after the restart; want those of the first start, %v", got, durables)
		}
		if got, want := testkit.Column[int64](t, check, `SELECT COUNT(*) FROM consumer_inbox`)[0], inbox+int64(len(h.events)-n); got != want {
			t.Errorf("%d inbox rows after the restart; want %d", got, want)
		}
		if v := storedVersion(t, check); v != model.Version {
			t.Errorf("model version %d stored after the restart; want %d", v, model.Version)
		}
		for name, logs := range map[string]*testkit.Buffer{"first": &first, "second": &second} {
			if strings.Contains(logs.String(), "rebuil") {
				t.Errorf("the %s start logged a rebuild:\n%s", name, logs.String())
			}
		}
	})
}

// TestModelKeptWhenStreamsTrimmed is TestModelRebuiltAfterUpgrade on streams that no longer hold
// their first event (an age limit removed it): a rebuild would lose more than the older code did
// not keep, so the service keeps the model and its version, and says why.
func TestModelKeptWhenStreamsTrimmed(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var logs testkit.Buffer
		e := startOn(t, db, testenv.NATS{}, &logs)
		h := company()
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, 0, len(h.events))
		e.caughtUp(t, h)
		liveModel := modelOf(t, e)
		e.stop(t)

		old := olderModel(t, e)
		kept := modelOf(t, e)
		// The budget stream's first event goes, as an age limit removes it.
		ctx := context.Background()
		budget := events.StreamName(e.NATS.SubjectPrefix, "budget")
		st, err := e.JetStream.Stream(ctx, budget)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSequence(2)); err != nil {
			t.Fatal(err)
		}

		var upgraded testkit.Buffer
		e = startOn(t, db, e.NATS, &upgraded)
		testkit.Eventually(t, time.Minute, func() error {
			if !strings.Contains(upgraded.String(), "briefing model not rebuilt") {
				return fmt.Errorf("no word of the model kept yet:\n%s", upgraded.String())
			}
			return nil
		})
		if !strings.Contains(upgraded.String(), "streams="+budget) {
			t.Errorf("the log does not name the trimmed stream %s:\n%s", budget, upgraded.String())
		}
		if v := storedVersion(t, old); v != model.Version-1 {
			t.Errorf("model version %d stored; want %d kept", v, model.Version-1)
		}
		if diff := cmp.Diff(kept, modelOf(t, e)); diff != "" {
			t.Errorf("the model changed (-kept +now):\n%s", diff)
		}
		if len(liveModel.SLABreaches) == 0 {
			t.Error("no SLA breach in the live model: the kept model's lack shows nothing")
		}
	})
}
