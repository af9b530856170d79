package gateway_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// spans records every span of the test binary's global tracer provider (installed in TestMain).
// Tests running in parallel record into it too: a test picks its spans by trace id.
var spans = tracetest.NewSpanRecorder()

// effectsMigration adds the table the tracing consumer writes its effect into. Its version is
// far above the budget service's own migrations.
const effectsMigration = `-- +goose Up
CREATE TABLE trace_effects (
    event_id TEXT PRIMARY KEY,
    resource TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    span_id  TEXT NOT NULL
);
-- +goose Down
DROP TABLE trace_effects;
`

// withEffects returns the budget service's migrations plus effectsMigration.
func withEffects(e sqldb.Engine) fs.FS {
	base := budget.Service().Migrations(e)
	out := fstest.MapFS{"90001_trace_effects.sql": {Data: []byte(effectsMigration)}}
	err := fs.WalkDir(base, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(base, path)
		out[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		panic(err) // embedded files
	}
	return out
}

// TestOneTraceFromRESTToConsumer follows one REST call through the gateway, the budget service,
// its outbox relay and NATS to the effect of a consumer, and finds every hop in one trace:
//
//	gateway HTTP server span "POST /v1/costCenters"                       (root)
//	└ gRPC client span  quarterdeck.budget.v1.BudgetService/CreateCostCenter   (gateway)
//	  └ gRPC server span  quarterdeck.budget.v1.BudgetService/CreateCostCenter (service; writes the outbox row)
//	    └ producer span "publish <subject>"                                (outbox relay)
//	      └ consumer span "trace-effect process"                           (consumer; its handler writes the effect)
//
// With the service in the gateway's process (Options.Local) there is no client span: the
// service's server span is the HTTP span's child.
func TestOneTraceFromRESTToConsumer(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{false, true} {
		for _, db := range testenv.Databases(t) { // fresh ones for each transport
			t.Run(fmt.Sprintf("%s/local=%v", db.Engine, local), func(t *testing.T) {
				t.Parallel()
				testOneTrace(t, db, local)
			})
		}
	}
}

func testOneTrace(t *testing.T, db testenv.Database, local bool) {
	ctx := context.Background()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)

	// The budget service with one consumer of its own events, whose effect is a row that records
	// the trace context its handler ran in.
	var effects *sqldb.DB // set by Consumers before host.Start returns
	svc := budget.Service()
	svc.Migrations = withEffects
	svc.Consumers = func(deps host.Deps) []consumer.Spec {
		effects = deps.DB
		return []consumer.Spec{{
			Name:     "trace-effect",
			Domain:   budget.Domain,
			Subjects: []string{"cost_center.created"},
			Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				sc := trace.SpanContextFromContext(ctx)
				_, err := tx.ExecContext(ctx,
					`INSERT INTO trace_effects (event_id, resource, trace_id, span_id) VALUES ($1, $2, $3, $4)`,
					ev.ID, ev.Resource, sc.TraceID().String(), sc.SpanID().String())
				return err
			},
		}}
	}
	in, err := host.Start(ctx, svc, host.Options{
		DatabaseURL: db.DSN, Schema: db.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc,
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: quiet, Identity: identitytest.Verifier(),
		Consumers: consumer.Settings{AckWait: 5 * time.Second, BackoffInitial: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	opts := gateway.Options{Backends: oneBackend(in.Addr()), Logger: quiet, Authenticator: identitytest.Authenticator{}}
	if local {
		opts.Local = map[string]*rpc.Local{"budget": in.Local()}
	}
	gw, err := gateway.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	created := call(t, "POST", srv.URL+"/v1/costCenters", `{"displayName":"Traced","code":"CC-TRACE"}`)
	name, _ := created.body["name"].(string)
	if created.code != http.StatusOK || !strings.HasPrefix(name, "costCenters/") {
		t.Fatalf("create = %d %v", created.code, created.body)
	}

	// The consumer's effect, and the trace context its handler saw.
	var eventID, traceID, spanID string
	testkit.Eventually(t, 30*time.Second, func() error {
		err := effects.QueryRowContext(ctx,
			`SELECT event_id, trace_id, span_id FROM trace_effects WHERE resource = $1`, name).
			Scan(&eventID, &traceID, &spanID)
		if errors.Is(err, sql.ErrNoRows) {
			return errors.New("the consumer's effect is not there")
		}
		if err != nil {
			t.Fatalf("read effect: %v", err)
		}
		return nil
	})

	// The five hops, found by kind and name among the spans of the effect's trace. A hop that
	// loses the context starts a new trace (or none), so its span is missing here.
	const method = "quarterdeck.budget.v1.BudgetService/CreateCostCenter"
	subject := ns.SubjectPrefix + ".budget.cost_center.created"
	type hop struct {
		what   string
		kind   trace.SpanKind
		name   string
		remote bool // its parent is remote: a process boundary (gRPC metadata, outbox row, NATS header)
	}
	hops := []hop{
		{"gateway HTTP server span", trace.SpanKindServer, "POST /v1/costCenters", false},
		{"gateway gRPC client span", trace.SpanKindClient, method, false},
		{"service gRPC server span", trace.SpanKindServer, method, true},
		{"relay producer span", trace.SpanKindProducer, "publish " + subject, true},
		{"consumer process span", trace.SpanKindConsumer, "trace-effect process", true},
	}
	if local {
		hops = slices.Delete(hops, 1, 2)
	}
	found := make([]sdktrace.ReadOnlySpan, len(hops))
	var all []string
	testkit.Eventually(t, 10*time.Second, func() error {
		clear(found)
		all = all[:0]
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID().String() != traceID {
				continue
			}
			all = append(all, s.SpanKind().String()+" "+s.Name())
			for i, h := range hops {
				if s.SpanKind() == h.kind && s.Name() == h.name {
					if found[i] != nil {
						t.Fatalf("two %ss in trace %s", h.what, traceID)
					}
					found[i] = s
				}
			}
		}
		for i, s := range found {
			if s == nil {
				return fmt.Errorf("no %s in trace %s; spans of the trace: %s", hops[i].what, traceID, strings.Join(all, ", "))
			}
		}
		return nil
	})

	// Each hop is the child of the one before it; the root is the gateway's HTTP server span.
	if p := found[0].Parent(); p.IsValid() {
		t.Errorf("%s has parent %s, want none (the client sent no trace context)", hops[0].what, p.SpanID())
	}
	for i := 1; i < len(hops); i++ {
		parent, want := found[i].Parent(), found[i-1].SpanContext()
		if parent.TraceID() != want.TraceID() || parent.SpanID() != want.SpanID() {
			t.Errorf("%s has parent %s, want the %s %s", hops[i].what, parent.SpanID(), hops[i-1].what, want.SpanID())
		}
	}
	// Process boundaries are crossed through propagated contexts, so those parents are remote;
	// the gRPC client span is a local child. A Local call crosses as the network would.
	for i, h := range hops {
		if found[i].Parent().IsValid() && found[i].Parent().IsRemote() != h.remote {
			t.Errorf("%s: parent remote = %v, want %v", h.what, found[i].Parent().IsRemote(), h.remote)
		}
	}
	// The handler ran inside the consumer's span, and the messages agree on the event.
	last := len(hops) - 1
	consumerSpan := found[last].SpanContext()
	if spanID != consumerSpan.SpanID().String() {
		t.Errorf("handler ran in span %s, want the consumer span %s", spanID, consumerSpan.SpanID())
	}
	for _, hop := range []int{last - 1, last} {
		if id := attr(found[hop], "messaging.message.id"); id != eventID {
			t.Errorf("%s messaging.message.id = %q, want the event %s", hops[hop].what, id, eventID)
		}
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.AsString()
		}
	}
	return ""
}
