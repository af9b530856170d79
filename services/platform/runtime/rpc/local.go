package rpc

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A unary call from the same process need not cross a socket. Local runs it as the server would
// run it from the network: through the server's stats handler (its span and metrics) and its
// interceptors (authentication, validation, ownership, error mapping), into the handler. What
// it leaves out is the transport: no HTTP/2 framing, no loopback socket, no goroutine handing
// frames to another. In the standalone set-up, before the gateway called the services it hosts
// this way, gRPC took about a sixth of the process's CPU under creates, most of it in the
// transport (BENCHMARKS.md, ninth round).
//
// What crosses from caller to server is what crosses the network, and only that:
//   - the request and the response are copies (marshalled and unmarshalled, with the server's
//     and the call's size limits), so neither side sees the other change a message;
//   - the caller's outgoing metadata becomes the server's incoming metadata;
//   - the deadline and cancellation of the caller's context, and its trace and baggage
//     (the span is the server's remote parent, as a propagated traceparent would make it).
//
// No other value of the caller's context reaches the handler, and the handler starts with no
// outgoing metadata: a call it makes to a peer carries what the server's own interceptors put
// in its context (the verified identity), as over the network, and nothing of its caller's.

// localMethod is a unary method registered on a Server.
type localMethod struct {
	handler grpc.MethodHandler
	impl    any
}

// RegisterService registers a service on the gRPC server, and its unary methods for Local calls.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.Server.RegisterService(desc, impl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range desc.Methods {
		s.methods["/"+desc.ServiceName+"/"+m.MethodName] = localMethod{handler: m.Handler, impl: impl}
	}
}

// Local returns a caller of the server's unary methods within the process (see Invoke).
func (s *Server) Local() *Local { return &Local{s: s} }

// Local calls the unary methods of a Server in the same process. It is the Invoke half of a
// grpc.ClientConnInterface; streams go over a connection (see LocalFirst).
type Local struct{ s *Server }

// defaultMaxCallRecvMsgSize is gRPC's default limit on the response a client accepts.
const defaultMaxCallRecvMsgSize = 4 << 20

// Invoke calls method with args and fills reply, as grpc.ClientConn.Invoke does over the
// network. Of the call options it honours grpc.Header, grpc.Trailer and
// grpc.MaxCallRecvMsgSize; the others concern a transport there is none of.
func (l *Local) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	l.s.mu.RLock()
	m, ok := l.s.methods[method]
	closed := l.s.closed
	if !closed {
		l.s.calls.Add(1)
	}
	l.s.mu.RUnlock()
	if closed {
		return status.Error(codes.Unavailable, "the server is stopping")
	}
	defer l.s.calls.Done()
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	in, err := marshal(args)
	if err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if len(in) > l.s.maxRecv {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", len(in), l.s.maxRecv)
	}

	sctx, cancel := serverContext(ctx, l.s.stopped)
	defer cancel()
	stream := &localStream{method: method}
	sctx = grpc.NewContextWithServerTransportStream(sctx, stream)
	sctx = peer.NewContext(sctx, &peer.Peer{Addr: localAddr{}, LocalAddr: localAddr{}})
	sh := l.s.stats
	sctx = sh.TagRPC(sctx, &stats.RPCTagInfo{FullMethodName: method})
	begin := time.Now()
	sh.HandleRPC(sctx, &stats.Begin{BeginTime: begin})

	dec := func(v any) error { return unmarshal(in, v, "grpc: error unmarshalling request: %v") }
	resp, err := m.handler(m.impl, sctx, dec, l.s.unary)
	var out []byte
	if err == nil {
		if out, err = marshal(resp); err != nil {
			err = status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
		}
	}
	if err != nil {
		// As the server sends it: a status as it is, a context's end as its code, anything
		// else as UNKNOWN.
		if _, isStatus := status.FromError(err); !isStatus {
			err = status.FromContextError(err).Err()
		}
	}
	sh.HandleRPC(sctx, &stats.End{BeginTime: begin, EndTime: time.Now(), Error: err})
	stream.deliver(opts)
	// A caller whose context ended while the server worked gets its context's end, whatever
	// the server answered, as over the network.
	if cerr := ctx.Err(); cerr != nil {
		return status.FromContextError(cerr).Err()
	}
	if err != nil {
		return err
	}
	limit := defaultMaxCallRecvMsgSize
	for _, o := range opts {
		if o, ok := o.(grpc.MaxRecvMsgSizeCallOption); ok {
			limit = o.MaxRecvMsgSize
		}
	}
	if len(out) > limit {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", len(out), limit)
	}
	return unmarshal(out, reply, "grpc: failed to unmarshal the received message: %v")
}

// unmarshal fills v from b, or returns an INTERNAL status of format with the error.
func unmarshal(b []byte, v any, format string) error {
	msg, ok := v.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, format, fmt.Errorf("%T is not a proto.Message", v))
	}
	if err := proto.Unmarshal(b, msg); err != nil {
		return status.Errorf(codes.Internal, format, err)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	msg, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a proto.Message", v)
	}
	return proto.Marshal(msg)
}

// serverContext returns the context a server's handler gets for a call made in ctx: the
// deadline and cancellation of ctx, its span as a remote parent and its baggage, and nothing
// else of it. It ends too when stopped does.
func serverContext(ctx, stopped context.Context) (context.Context, context.CancelFunc) {
	sctx := context.Background()
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		sctx = trace.ContextWithRemoteSpanContext(sctx, sc)
	}
	if b := baggage.FromContext(ctx); b.Len() > 0 {
		sctx = baggage.ContextWithBaggage(sctx, b)
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		sctx = metadata.NewIncomingContext(sctx, md)
	}
	var cancel context.CancelFunc
	if d, ok := ctx.Deadline(); ok {
		sctx, cancel = context.WithDeadline(sctx, d)
	} else {
		sctx, cancel = context.WithCancel(sctx)
	}
	stopCaller := context.AfterFunc(ctx, cancel)
	stopServer := context.AfterFunc(stopped, cancel)
	return sctx, func() { stopCaller(); stopServer(); cancel() }
}

// GracefulStop stops the server: it takes no new calls, from the network or Local, and returns
// when the calls in flight have finished.
func (s *Server) GracefulStop() {
	s.closeLocal()
	s.Server.GracefulStop()
	s.calls.Wait()
}

// Stop stops the server: it takes no new calls and cancels the calls in flight, from the network
// and Local, and returns when they have returned.
func (s *Server) Stop() {
	s.closeLocal()
	s.stop()
	s.Server.Stop()
	s.calls.Wait()
}

func (s *Server) closeLocal() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// localStream is the server side's view of a Local call: its method (grpc.Method) and the
// header and trailer the handler sets (grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer).
type localStream struct {
	method string

	mu              sync.Mutex
	header, trailer metadata.MD
}

func (s *localStream) Method() string { return s.method }

func (s *localStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = metadata.Join(s.header, md)
	return nil
}

func (s *localStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }

func (s *localStream) SetTrailer(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

// deliver fills the caller's grpc.Header and grpc.Trailer options.
func (s *localStream) deliver(opts []grpc.CallOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = s.header.Copy()
		case grpc.TrailerCallOption:
			*o.TrailerAddr = s.trailer.Copy()
		}
	}
}

// localAddr is the address of both ends of a Local call.
type localAddr struct{}

func (localAddr) Network() string { return "local" }
func (localAddr) String() string  { return "local" }

// LocalFirst is a client connection whose unary calls go to a server in the same process
// (Local) and whose streams go over the connection.
type LocalFirst struct {
	*grpc.ClientConn
	Local *Local
}

// Invoke calls a unary method through Local.
func (c LocalFirst) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.Local.Invoke(ctx, method, args, reply, opts...)
}

var (
	_ grpc.ClientConnInterface = LocalFirst{}
	_ net.Addr                 = localAddr{}
)
