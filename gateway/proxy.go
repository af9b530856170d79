package gateway

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// frame is one gRPC message passed through undecoded.
type frame struct{ payload []byte }

// rawCodec passes frames through as bytes and encodes everything else (the reflection service's
// messages) as protobuf. It is named "proto" so that it serves the standard content type.
type rawCodec struct{ proto encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.payload)}, nil
	}
	return c.proto.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		f.payload = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

func (rawCodec) Name() string { return "proto" }

// proxy forwards the gRPC calls of external clients to the services that own them.
type proxy struct {
	g *Gateway
	// routes maps a fully-qualified service name to the connection of the service that owns it:
	// every service of the proto package quarterdeck.<domain>.… belongs to <domain>.
	routes map[string]*grpc.ClientConn
	// byResource lists the services every domain serves (OperationsService): a call is routed by
	// the `services/{domain}` prefix of the `parent` or `name` of its first request message.
	byResource map[string]bool
	// methods are the full names of the methods the port serves, routed or its own, read-only
	// once the server is built.
	methods map[string]bool
	codec   rawCodec
}

// serves reports whether the port serves the method fullMethod.
func (p *proxy) serves(fullMethod string) bool { return p.methods[fullMethod] }

// newGRPCServer returns the gRPC server of the gateway's port: the transparent proxy for every
// Quarterdeck service, the gRPC health service of the platform (health.go) and, when reflection
// is on, the reflection service describing them.
func (g *Gateway) newGRPCServer(reflect bool) *grpc.Server {
	p := &proxy{g: g, routes: map[string]*grpc.ClientConn{}, byResource: map[string]bool{},
		methods: map[string]bool{}, codec: rawCodec{proto: encoding.GetCodecV2("proto")}}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		parts := strings.Split(string(fd.Package()), ".")
		if len(parts) < 3 || parts[0] != "quarterdeck" || fd.Services().Len() == 0 {
			return true
		}
		conn, owned := g.conns[parts[1]]
		for i := range fd.Services().Len() {
			name := string(fd.Services().Get(i).FullName())
			switch {
			case owned:
				p.routes[name] = conn
			case routableByResource(fd.Services().Get(i)):
				p.byResource[name] = true
			}
		}
		return true
	})
	s := grpc.NewServer(
		// Metrics name only the methods the port serves: any other is one "unknown" (a client
		// could otherwise make a series of every name it sends).
		grpc.StatsHandler(telemetry.GRPCServerHandler(p.serves, otelgrpc.WithMeterProvider(g.meters))),
		grpc.ForceServerCodecV2(p.codec),
		grpc.UnknownServiceHandler(p.handle),
		grpc.ChainStreamInterceptor(p.intercept),
		grpc.MaxRecvMsgSize(g.set.MaxBodyBytes),
	)
	registerHealth(s, g, p.routes)
	if reflect {
		opts := reflection.ServerOptions{
			Services:           serviceList{s: s, proxied: p.serviceNames()},
			DescriptorResolver: protoregistry.GlobalFiles,
			ExtensionResolver:  protoregistry.GlobalTypes,
		}
		reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
		reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(opts))
	}
	for _, name := range p.serviceNames() {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if sd, ok := d.(protoreflect.ServiceDescriptor); err == nil && ok {
			for i := range sd.Methods().Len() {
				p.methods["/"+name+"/"+string(sd.Methods().Get(i).Name())] = true
			}
		}
	}
	for name, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			p.methods["/"+name+"/"+m.Name] = true
		}
	}
	return s
}

// routableByResource reports whether every method of sd takes a request whose `parent` or `name`
// says which service it is for.
func routableByResource(sd protoreflect.ServiceDescriptor) bool {
	for i := range sd.Methods().Len() {
		in := sd.Methods().Get(i).Input().Fields()
		if in.ByName("parent") == nil && in.ByName("name") == nil {
			return false
		}
	}
	return sd.Methods().Len() > 0
}

func (p *proxy) serviceNames() []string {
	names := make([]string, 0, len(p.routes)+len(p.byResource))
	for n := range p.routes {
		names = append(names, n)
	}
	for n := range p.byResource {
		names = append(names, n)
	}
	return names
}

// serviceList tells the reflection service which services the port serves: its own and the
// proxied ones, whose descriptors are compiled into the binary.
type serviceList struct {
	s       *grpc.Server
	proxied []string
}

func (l serviceList) GetServiceInfo() map[string]grpc.ServiceInfo {
	m := maps.Clone(l.s.GetServiceInfo())
	for _, n := range l.proxied {
		m[n] = grpc.ServiceInfo{}
	}
	return m
}

// intercept logs every call on the port and applies the per-address rate limit to it.
func (p *proxy) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() { p.g.logCall(ss.Context(), info.FullMethod, start, err) }()
	if ok, after := p.g.perIP.allow(peerIP(ss.Context()), time.Now()); !ok {
		_ = ss.SetHeader(metadata.Pairs("retry-after", retryAfterSeconds(after)))
		return rateLimited("from this address", after).Err()
	}
	return handler(srv, ss)
}

// handle forwards one call, of any kind (unary or streaming), to the service that owns it.
func (p *proxy) handle(_ any, ss grpc.ServerStream) error {
	ctx := ss.Context()
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return edgeError(codes.Internal, "INTERNAL", "internal error").Err()
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")

	// Authentication and the per-caller limit come before anything reaches a service.
	in, _ := metadata.FromIncomingContext(ctx)
	if len(in.Get("authorization")) > 1 {
		return duplicateAuthorization().Err()
	}
	c, err := p.g.authenticate(ctx, first(in.Get("authorization")))
	if err != nil {
		return err
	}
	if c.principal.Subject != "" {
		if ok, after := p.g.perKey.allow(c.principal.Subject, time.Now()); !ok {
			_ = ss.SetHeader(metadata.Pairs("retry-after", retryAfterSeconds(after)))
			return rateLimited("for this caller", after).Err()
		}
	}

	conn := p.routes[service]
	var head *frame
	if conn == nil && p.byResource[service] {
		// The first message says which service the call is for.
		head = &frame{}
		if err := ss.RecvMsg(head); err != nil {
			return err
		}
		if conn, err = p.routeByResource(method, head); err != nil {
			return err
		}
	}
	if conn == nil {
		return edgeError(codes.Unimplemented, ReasonUnknownService, "unknown service "+service).Err()
	}

	out := metadata.MD{}
	for k, vs := range in {
		if forwardable(k) {
			out[k] = vs
		}
	}
	if ids := out.Get("x-request-id"); len(ids) != 1 || ids[0] == "" || len(ids[0]) > 128 {
		out.Set("x-request-id", newRequestID()) // the REST rule: the client's, if it is usable
	}
	_ = ss.SetHeader(metadata.Pairs("x-request-id", out.Get("x-request-id")[0]))
	out = metadata.Join(out, c.md)

	// The default deadline; context.WithTimeout keeps a client's shorter one.
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, out), p.g.set.CallTimeout)
	defer cancel()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method,
		grpc.ForceCodecV2(p.codec))
	if err != nil {
		return err
	}

	// The client's messages go up in a goroutine owned by this call: it ends when the client
	// half-closes, or when this handler returns and cancels ctx and the server stream ends.
	up := make(chan error, 1)
	go func() { up <- forwardUp(ss, cs, head) }()
	down := make(chan error, 1)
	go func() { down <- forwardDown(cs, ss) }()
	for {
		select {
		case err := <-up:
			if err != nil {
				// The client's side failed (it went away): stop the call at the service.
				cancel()
				return status.Error(codes.Canceled, "the client ended the call")
			}
			up = nil
		case err := <-down:
			ss.SetTrailer(cs.Trailer())
			return err // nil, or the service's status with its details, as it sent them
		}
	}
}

// routeByResource finds the service of a call from the `parent` or `name` of its request.
func (p *proxy) routeByResource(method string, head *frame) (*grpc.ClientConn, error) {
	unroutable := edgeError(codes.InvalidArgument, ReasonServiceUnroutable,
		"the request's parent or name must start with services/{service}, e.g. services/budget")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	md, ok := d.(protoreflect.MethodDescriptor)
	if err != nil || !ok {
		return nil, edgeError(codes.Unimplemented, ReasonUnknownService, "unknown method "+method).Err()
	}
	msg := dynamicpb.NewMessage(md.Input())
	// A string that is not UTF-8 is decoded all the same: the service refuses it, naming the field.
	if err := rpc.UnmarshalKeepingText(head.payload, msg); err != nil {
		return nil, edgeError(codes.InvalidArgument, "INVALID_ARGUMENT", rpc.Undecodable(err)).Err()
	}
	for _, field := range []protoreflect.Name{"parent", "name"} {
		fd := md.Input().Fields().ByName(field)
		if fd == nil || fd.Kind() != protoreflect.StringKind {
			continue
		}
		parts := strings.Split(msg.Get(fd).String(), "/")
		if len(parts) >= 2 && parts[0] == "services" {
			if conn := p.g.conns[parts[1]]; conn != nil {
				return conn, nil
			}
		}
	}
	return nil, unroutable.Err()
}

// forwardUp sends the client's messages to the service, then half-closes.
func forwardUp(ss grpc.ServerStream, cs grpc.ClientStream, head *frame) error {
	if head != nil {
		if err := cs.SendMsg(head); err != nil {
			return nil // the service ended the call; forwardDown reports how
		}
	}
	for {
		f := &frame{}
		if err := ss.RecvMsg(f); err != nil {
			if err == io.EOF {
				return cs.CloseSend()
			}
			return err
		}
		if err := cs.SendMsg(f); err != nil {
			return nil
		}
	}
}

// forwardDown sends the service's headers and messages to the client, and returns the call's
// outcome: nil at the end of the stream, otherwise the service's status.
func forwardDown(cs grpc.ClientStream, ss grpc.ServerStream) error {
	for i := 0; ; i++ {
		f := &frame{}
		err := cs.RecvMsg(f)
		if i == 0 {
			if h, herr := cs.Header(); herr == nil {
				_ = ss.SendHeader(h)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			return err
		}
	}
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// peerIP is the address of the client of a gRPC call.
func peerIP(ctx context.Context) string {
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		return clientIP(pr.Addr.String())
	}
	return ""
}

// reasonOf is the ErrorInfo reason of a status error, if it has one.
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// logCall is the gRPC counterpart of the access log.
func (g *Gateway) logCall(ctx context.Context, method string, start time.Time, err error) {
	c := status.Code(err)
	level := slog.LevelDebug
	switch c {
	case codes.OK:
	case codes.Unauthenticated:
		// Refusals: debug, and counted in the refusals' summary (see accessLog).
		g.refused.add(refusedUnauthenticated, peerIP(ctx))
	case codes.ResourceExhausted:
		if reasonOf(err) != ReasonRateLimited {
			level = slog.LevelInfo // a message over the size limit, a service's quota
			break
		}
		g.refused.add(refusedRateLimited, peerIP(ctx))
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable, codes.DeadlineExceeded:
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	g.log.Log(ctx, level, "grpc", "method", method, "code", c.String(), "duration", time.Since(start))
}
