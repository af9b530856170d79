package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	eventv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/event/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

func TestSpecOf(t *testing.T) {
	tests := []struct {
		msg  proto.Message
		want events.Spec
	}{
		{
			msg:  &budgetv1.CostCenterCreated{},
			want: events.Spec{Domain: "budget", Aggregate: "cost_center", Action: "created", Type: "quarterdeck.budget.v1.CostCenterCreated"},
		},
		{
			msg:  &budgetv1.CostCenterUpdated{},
			want: events.Spec{Domain: "budget", Aggregate: "cost_center", Action: "updated", Type: "quarterdeck.budget.v1.CostCenterUpdated"},
		},
		{
			msg:  &budgetv1.CostCenterDeleted{},
			want: events.Spec{Domain: "budget", Aggregate: "cost_center", Action: "deleted", Type: "quarterdeck.budget.v1.CostCenterDeleted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.want.Type, func(t *testing.T) {
			got, err := events.SpecOf(tt.msg)
			if err != nil {
				t.Fatalf("SpecOf: %v", err)
			}
			if got != tt.want {
				t.Fatalf("SpecOf = %+v, want %+v", got, tt.want)
			}
			if got.Type != string(tt.msg.ProtoReflect().Descriptor().FullName()) {
				t.Fatalf("Type = %q, want the message's full name", got.Type)
			}
		})
	}
}

func TestSpecOfNonEvent(t *testing.T) {
	for _, msg := range []proto.Message{&budgetv1.CostCenter{}, &budgetv1.GetCostCenterRequest{}, &emptypb.Empty{}} {
		name := string(msg.ProtoReflect().Descriptor().FullName())
		t.Run(name, func(t *testing.T) {
			spec, err := events.SpecOf(msg)
			if !errors.Is(err, events.ErrNotAnEvent) {
				t.Fatalf("SpecOf(%s) = %+v, %v; want ErrNotAnEvent", name, spec, err)
			}
			if spec != (events.Spec{}) {
				t.Fatalf("SpecOf(%s) returned %+v with an error", name, spec)
			}
		})
	}
}

// eventDescriptor builds a message type in package pkg carrying the event option spec (none when
// nil), so that SpecOfDescriptor can be tested on types no .proto file declares.
func eventDescriptor(t *testing.T, pkg string, spec *eventv1.EventSpec) protoreflect.MessageDescriptor {
	t.Helper()
	opts := &descriptorpb.MessageOptions{}
	if spec != nil {
		proto.SetExtension(opts, eventv1.E_Event, spec)
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(strings.ReplaceAll(pkg, ".", "/") + "/test_events.proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"quarterdeck/event/v1/event.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:    proto.String("ThingHappened"),
			Options: opts,
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("build descriptor: %v", err)
	}
	return fd.Messages().Get(0)
}

func TestSpecOfDescriptor(t *testing.T) {
	tests := []struct {
		name    string
		pkg     string
		spec    *eventv1.EventSpec
		want    events.Spec
		wantErr bool
		notAnEv bool
	}{
		{
			name: "valid",
			pkg:  "quarterdeck.vendor.v2",
			spec: &eventv1.EventSpec{Aggregate: "contract", Action: "signed_off"},
			want: events.Spec{Domain: "vendor", Aggregate: "contract", Action: "signed_off", Type: "quarterdeck.vendor.v2.ThingHappened"},
		},
		{name: "no option", pkg: "quarterdeck.vendor.v1", spec: nil, wantErr: true, notAnEv: true},
		{name: "empty aggregate", pkg: "quarterdeck.vendor.v1", spec: &eventv1.EventSpec{Action: "x"}, wantErr: true, notAnEv: true},
		{name: "foreign package", pkg: "acme.vendor.v1", spec: &eventv1.EventSpec{Aggregate: "a", Action: "b"}, wantErr: true},
		{name: "unversioned package", pkg: "quarterdeck.vendor", spec: &eventv1.EventSpec{Aggregate: "a", Action: "b"}, wantErr: true},
		{name: "upper-case aggregate", pkg: "quarterdeck.vendor.v1", spec: &eventv1.EventSpec{Aggregate: "Contract", Action: "b"}, wantErr: true},
		{name: "dotted action", pkg: "quarterdeck.vendor.v1", spec: &eventv1.EventSpec{Aggregate: "a", Action: "b.c"}, wantErr: true},
		{name: "wildcard action", pkg: "quarterdeck.vendor.v1", spec: &eventv1.EventSpec{Aggregate: "a", Action: "*"}, wantErr: true},
		{name: "empty action", pkg: "quarterdeck.vendor.v1", spec: &eventv1.EventSpec{Aggregate: "a"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.SpecOfDescriptor(eventDescriptor(t, tt.pkg, tt.spec))
			if !tt.wantErr {
				if err != nil || got != tt.want {
					t.Fatalf("SpecOfDescriptor = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("SpecOfDescriptor = %+v, want an error", got)
			}
			if errors.Is(err, events.ErrNotAnEvent) != tt.notAnEv {
				t.Fatalf("errors.Is(%v, ErrNotAnEvent) = %v, want %v", err, !tt.notAnEv, tt.notAnEv)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	spec, err := events.SpecOf(&budgetv1.CostCenterCreated{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ prefix, want string }{
		{events.DefaultPrefix, "quarterdeck.budget.cost_center.created"},
		{"staging", "staging.budget.cost_center.created"},
	}
	for _, tt := range tests {
		if got := spec.Subject(tt.prefix); got != tt.want {
			t.Errorf("Subject(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestSourceAndStreamName(t *testing.T) {
	if got := events.Source("budget"); got != "/quarterdeck/budget" {
		t.Errorf("Source(budget) = %q, want /quarterdeck/budget", got)
	}
	tests := []struct{ prefix, domain, want string }{
		{"quarterdeck", "budget", "QUARTERDECK_BUDGET"},
		{"qt_x1", "vendor", "QT_X1_VENDOR"},
	}
	for _, tt := range tests {
		if got := events.StreamName(tt.prefix, tt.domain); got != tt.want {
			t.Errorf("StreamName(%q, %q) = %q, want %q", tt.prefix, tt.domain, got, tt.want)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{events.DefaultPrefix, true},
		{"staging", true},
		{"qt_1", true},
		{"a", true},
		{"a" + strings.Repeat("b", 31), true},
		{"a" + strings.Repeat("b", 32), false},
		{"", false},
		{"Quarterdeck", false},
		{"1env", false},
		{"_env", false},
		{"prod.eu", false},
		{"prod-eu", false},
		{"prod eu", false},
		{"*", false},
		{">", false},
		{"prod\n", false},
	}
	for _, tt := range tests {
		if err := events.ValidatePrefix(tt.prefix); (err == nil) != tt.ok {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
		}
	}
}

func TestEnsureStreamRejectsBadPrefix(t *testing.T) {
	// A nil JetStream proves the prefix is checked before the server is asked anything.
	_, err := events.EnsureStream(context.Background(), nil, events.StreamConfig{Prefix: "Bad.Prefix"}, "budget")
	if err == nil {
		t.Fatal("EnsureStream accepted prefix Bad.Prefix")
	}
}

func TestEnsureStreamIsIdempotent(t *testing.T) {
	n := testenv.NATSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	nc, err := events.Connect(n.URL, "events-test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	cfg := events.StreamConfig{Prefix: n.SubjectPrefix, MaxAge: time.Hour}
	s, err := events.EnsureStream(ctx, js, cfg, "budget")
	if err != nil {
		t.Fatalf("first EnsureStream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	wantName := events.StreamName(n.SubjectPrefix, "budget")
	if c.Name != wantName {
		t.Fatalf("stream name = %q, want %q", c.Name, wantName)
	}
	if want := []string{n.SubjectPrefix + ".budget.>"}; !slices.Equal(c.Subjects, want) {
		t.Fatalf("stream subjects = %q, want %q", c.Subjects, want)
	}
	if c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy || c.Discard != jetstream.DiscardOld {
		t.Fatalf("stream storage/retention/discard = %v/%v/%v, want file/limits/old", c.Storage, c.Retention, c.Discard)
	}
	if c.Replicas != 1 || c.Duplicates != events.DefaultDuplicates || c.MaxAge != time.Hour {
		t.Fatalf("stream replicas/duplicates/max age = %d/%v/%v, want 1/%v/1h", c.Replicas, c.Duplicates, c.MaxAge, events.DefaultDuplicates)
	}

	// An event published on the domain's subject lands in the stream.
	spec, err := events.SpecOf(&budgetv1.CostCenterCreated{})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: spec.Subject(n.SubjectPrefix), Data: []byte("{}"),
		Header: nats.Header{events.HeaderMsgID: []string{"e1"}}})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack.Stream != wantName {
		t.Fatalf("event stored in stream %q, want %q", ack.Stream, wantName)
	}

	// The same config again is a no-op; a changed one updates the stream and keeps its events.
	if _, err := events.EnsureStream(ctx, js, cfg, "budget"); err != nil {
		t.Fatalf("EnsureStream with the same config: %v", err)
	}
	cfg.MaxAge = 2 * time.Hour
	cfg.Duplicates = 5 * time.Minute
	s, err = events.EnsureStream(ctx, js, cfg, "budget")
	if err != nil {
		t.Fatalf("EnsureStream with a changed config: %v", err)
	}
	info, err = s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 2*time.Hour || info.Config.Duplicates != 5*time.Minute {
		t.Fatalf("after update max age/duplicates = %v/%v, want 2h/5m", info.Config.MaxAge, info.Config.Duplicates)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after the update, want 1", info.State.Msgs)
	}

	// Only one stream exists for the domain.
	var names []string
	for name := range js.StreamNames(ctx).Name() {
		if strings.HasPrefix(name, strings.ToUpper(n.SubjectPrefix)+"_") {
			names = append(names, name)
		}
	}
	if !slices.Equal(names, []string{wantName}) {
		t.Fatalf("streams under the test prefix = %q, want only %q", names, wantName)
	}
}

// TestEnsureStreamAsksAgainWhenTheStoreFails: a server that answers "error creating store for
// stream" is asked again, up to five times, and the stream exists once the cause is gone; a cause
// that stays fails the call with the server's error. The cause here is a file where the stream's
// store directory goes.
func TestEnsureStreamAsksAgainWhenTheStoreFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clearAt  int // the wait before which the obstacle is removed; 0 never
		wantErr  bool
		wantWait []int
	}{
		{name: "passing", clearAt: 2, wantWait: []int{1, 2}},
		{name: "lasting", wantErr: true, wantWait: []int{1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testenv.StoppableNATS(t)
			_, js := testenv.Connect(t, n.URL)
			name := events.StreamName(n.SubjectPrefix, "budget")
			obstacle := filepath.Join(n.StoreDir(), "jetstream", "$G", "streams", name)
			if err := os.MkdirAll(filepath.Dir(obstacle), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(obstacle, []byte("not a directory"), 0o644); err != nil {
				t.Fatal(err)
			}
			var waits []int
			defer events.SetStoreFailureWait(func(n int) time.Duration {
				waits = append(waits, n)
				if n == tc.clearAt {
					if err := os.Remove(obstacle); err != nil {
						t.Error(err)
					}
				}
				return time.Millisecond
			})()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: n.SubjectPrefix}, "budget")
			if !slices.Equal(waits, tc.wantWait) {
				t.Errorf("waits before asking again = %v, want %v", waits, tc.wantWait)
			}
			if tc.wantErr {
				var apiErr *jetstream.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10049 || !strings.Contains(err.Error(), name) {
					t.Fatalf("EnsureStream with a store that cannot be created: %v; want the server's 10049 naming %s", err, name)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureStream once the store can be created: %v", err)
			}
			info, err := s.Info(ctx)
			if err != nil || info.Config.Name != name {
				t.Fatalf("stream info = %v, %v; want stream %s", info, err, name)
			}
		})
	}
}

func TestConnectFailsFast(t *testing.T) {
	// Port 1 on loopback refuses connections; RetryOnFailedConnect(false) must surface that.
	nc, err := events.Connect("nats://127.0.0.1:1", "events-test", slog.New(slog.DiscardHandler))
	if err == nil {
		nc.Close()
		t.Fatal("Connect to a closed port succeeded")
	}
	if !errors.Is(err, nats.ErrNoServers) {
		t.Fatalf("Connect error = %v, want one wrapping nats.ErrNoServers", err)
	}
}

func TestStreamConfigValidate(t *testing.T) {
	ok := []events.StreamConfig{
		{Prefix: "quarterdeck"}, // every default
		{Prefix: "quarterdeck", Replicas: 3, MaxAge: time.Hour, Duplicates: 10 * time.Minute, OutboxRetention: 11 * time.Minute},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
	bad := map[string]events.StreamConfig{
		"bad prefix":                                {Prefix: "a.b"},
		"6 replicas":                                {Prefix: "quarterdeck", Replicas: 6},
		"duplicates longer than max age":            {Prefix: "quarterdeck", MaxAge: time.Minute, Duplicates: 2 * time.Minute},
		"retention equal to duplicates":             {Prefix: "quarterdeck", Duplicates: time.Hour, OutboxRetention: time.Hour},
		"retention shorter than default duplicates": {Prefix: "quarterdeck", OutboxRetention: time.Minute},
		"default retention under duplicates":        {Prefix: "quarterdeck", Duplicates: 48 * time.Hour},
		"negative max age":                          {Prefix: "quarterdeck", MaxAge: -time.Second},
	}
	for name, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) accepted it", name, c)
		}
		// EnsureStream refuses before asking the (here absent) server anything.
		if _, err := events.EnsureStream(context.Background(), nil, c, "budget"); err == nil {
			t.Errorf("%s: EnsureStream accepted it", name)
		}
	}
}

// unansweredJetStream loses the answer to its first hang CreateOrUpdateStream requests: the
// call blocks until its context ends, as a request to a busy cluster can.
type unansweredJetStream struct {
	jetstream.JetStream
	hang  int
	calls int
}

func (j *unansweredJetStream) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	j.calls++
	if j.calls <= j.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return j.JetStream.CreateOrUpdateStream(ctx, cfg)
}

// TestEnsureStreamRepeatsAnUnansweredRequest: a request that gets no answer is repeated within
// the caller's deadline, and the stream is made; when the deadline ends first, the error says so.
func TestEnsureStreamRepeatsAnUnansweredRequest(t *testing.T) {
	defer events.SetEnsureAttemptTimeout(100 * time.Millisecond)()
	n := testenv.NATSServer(t)
	nc, err := events.Connect(n.URL, "events-test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := events.StreamConfig{Prefix: n.SubjectPrefix}

	lossy := &unansweredJetStream{JetStream: js, hang: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := events.EnsureStream(ctx, lossy, cfg, "budget")
	if err != nil {
		t.Fatalf("EnsureStream after two unanswered requests: %v", err)
	}
	if lossy.calls != 3 || s.CachedInfo().Config.Name != events.StreamName(n.SubjectPrefix, "budget") {
		t.Fatalf("%d requests, stream %q; want 3 and the budget stream", lossy.calls, s.CachedInfo().Config.Name)
	}

	never := &unansweredJetStream{JetStream: js, hang: 1 << 30}
	short, cancel2 := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel2()
	if _, err := events.EnsureStream(short, never, cfg, "vendors"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("EnsureStream without an answer: %v, want the deadline", err)
	}
	if never.calls < 2 {
		t.Fatalf("%d requests before the deadline, want several", never.calls)
	}
}

// TestEnsureStreamAtomicBatches asks for a stream that takes atomic batch publishes, then for one
// that does not, on a server of the test environment: the stream takes them exactly when the
// server is 2.12 or later (the embedded one is), and turning the setting off turns them off.
func TestEnsureStreamAtomicBatches(t *testing.T) {
	n := testenv.NATSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js := testenv.Connect(t, n.URL)
	major, minor := 0, 0
	if _, err := fmt.Sscanf(nc.ConnectedServerVersion(), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("server version %q: %v", nc.ConnectedServerVersion(), err)
	}
	supported := major > 2 || major == 2 && minor >= 12
	for _, want := range []bool{true, false, true} {
		s, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: n.SubjectPrefix, AtomicBatches: want}, "budget")
		if err != nil {
			t.Fatalf("EnsureStream with atomic batches %v: %v", want, err)
		}
		if got := events.AtomicBatches(s); got != (want && supported) {
			t.Errorf("server %s, atomic batches asked %v: the stream takes them: %v", nc.ConnectedServerVersion(), want, got)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.AllowAtomicPublish != (want && supported) {
			t.Errorf("server %s, atomic batches asked %v: the server's stream config says %v", nc.ConnectedServerVersion(), want, info.Config.AllowAtomicPublish)
		}
	}
}
