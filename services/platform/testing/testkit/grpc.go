package testkit

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
)

// Server is a gRPC server: a *grpc.Server or the platform's *rpc.Server.
type Server interface {
	Serve(net.Listener) error
	Stop()
}

// Serve serves srv on a loopback port until the test ends and returns its address. Serve failing
// other than by the Stop at the end fails the test.
func Serve(t testing.TB, srv Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// Dial returns a plaintext client connection to addr, closed when the test ends. Its calls carry
// no caller identity unless opts add one (identitytest.DialOption): for health checks and for
// tests of the identity check itself.
func Dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// DialAs is Dial with every call made as subject with scopes, or with every scope the linked
// protos declare when none are given, signed with identitytest's key.
func DialAs(t testing.TB, addr, subject string, scopes ...string) *grpc.ClientConn {
	t.Helper()
	return Dial(t, addr, identitytest.DialOptionAs(subject, scopes...))
}

// rawCodec sends a request given as the bytes of its message ([]byte) and ignores the response.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, _ := v.([]byte)
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}
func (rawCodec) Unmarshal(mem.BufferSlice, any) error { return nil }
func (rawCodec) Name() string                         { return "proto" }

// InvokeRaw calls method on conn with request as the bytes of its message, as a client whose
// protobuf library does not check what it sends (strings that are not UTF-8, say) would, and
// returns the call's error; the response is not decoded.
func InvokeRaw(ctx context.Context, conn *grpc.ClientConn, method string, request []byte) error {
	var out []byte
	return conn.Invoke(ctx, method, request, &out, grpc.ForceCodecV2(rawCodec{}))
}

// StreamRaw opens a server-streaming call of method on conn, sends request as the bytes of its
// message (as InvokeRaw does) and returns the error of the first message received: the call's
// status when the server refused the request, nil when it answered.
func StreamRaw(ctx context.Context, conn *grpc.ClientConn, method string, request []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	if err := s.SendMsg(request); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	var out []byte
	return s.RecvMsg(&out)
}
