package telemetry

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
)

// tagRecorder records the method names a stats handler is told about.
type tagRecorder struct {
	stats.Handler
	names []string
}

func (r *tagRecorder) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	r.names = append(r.names, info.FullMethodName)
	return ctx
}

func TestUnknownMethodsShareOneName(t *testing.T) {
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	rec := &tagRecorder{}
	h := knownMethods{Handler: rec, known: ServedBy(s)}
	for _, m := range []string{"/grpc.health.v1.Health/Check", "/x.Y/Z", "/grpc.health.v1.Health/Nope", "garbage"} {
		h.TagRPC(context.Background(), &stats.RPCTagInfo{FullMethodName: m})
	}
	want := []string{"/grpc.health.v1.Health/Check", UnknownMethod, UnknownMethod, UnknownMethod}
	for i := range want {
		if rec.names[i] != want[i] {
			t.Errorf("call %d tagged %q, want %q", i, rec.names[i], want[i])
		}
	}
	if !Compiled("/grpc.health.v1.Health/Watch") || Compiled("/grpc.health.v1.Health/Nope") || Compiled("/a/b/c") {
		t.Error("Compiled does not follow the descriptors compiled in")
	}
}
