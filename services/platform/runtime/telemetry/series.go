package telemetry

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Every metric series is a label set kept for the life of the process, so a label whose value
// a client chooses is a memory leak an outsider can drive, and one that names a host or port
// makes series of each connection. The rules below hold for every process:
//
//   - no metric carries an address or a port (addressAttributes): the HTTP instrumentation takes
//     server.address and server.port from the client's Host header, the gRPC client
//     instrumentation from the backend's resolved address;
//   - a gRPC method is a label only when the server serves it (or, for a client, when its
//     descriptor is compiled in); any other is UnknownMethod.

// UnknownMethod is the method name metrics and spans show for a gRPC call of a method the
// process does not serve: one value, however many distinct names clients send.
const UnknownMethod = "/unknown"

// addressAttributes are the attribute keys no metric keeps. Traces keep them: a span is not a
// series.
var addressAttributes = []attribute.Key{
	"server.address", "server.port",
	"client.address", "client.port",
	"network.peer.address", "network.peer.port",
	"network.local.address", "network.local.port",
	"url.full", "url.path", "url.query", "user_agent.original",
	// Older semantic conventions of the same.
	"net.host.name", "net.host.port", "net.peer.name", "net.peer.port", "net.sock.peer.addr",
	"net.sock.peer.port", "http.host", "http.target", "http.url", "http.client_ip", "http.user_agent",
}

// NewMeterProvider returns a meter provider for a process whose resource is res, and the handler
// serving its metrics (and the Go runtime's and the process's) in Prometheus text format. Its
// view drops every address attribute from every instrument.
func NewMeterProvider(res *resource.Resource) (*sdkmetric.MeterProvider, http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := promexporter.New(promexporter.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	noAddresses := sdkmetric.NewView(sdkmetric.Instrument{Name: "*"},
		sdkmetric.Stream{AttributeFilter: attribute.NewDenyKeysFilter(addressAttributes...)})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exp), sdkmetric.WithView(noAddresses))
	return mp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

// GRPCServerHandler returns the OpenTelemetry stats handler of a gRPC server that reports the
// calls of the methods known reports true for under their names, and every other call under
// UnknownMethod.
func GRPCServerHandler(known func(fullMethod string) bool, opts ...otelgrpc.Option) stats.Handler {
	return knownMethods{Handler: otelgrpc.NewServerHandler(opts...), known: known}
}

// GRPCClientHandler returns the OpenTelemetry stats handler of a gRPC client connection: calls of
// methods whose descriptors are compiled into the binary keep their names, others are reported
// under UnknownMethod (a proxy forwards what its clients ask for).
func GRPCClientHandler(opts ...otelgrpc.Option) stats.Handler {
	return knownMethods{Handler: otelgrpc.NewClientHandler(opts...), known: Compiled}
}

// ServedBy reports the methods s serves, as a known function for GRPCServerHandler. It reads s's
// services at the first call, when they are all registered (gRPC refuses a registration once
// the server serves).
func ServedBy(s interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}) func(string) bool {
	var (
		once    sync.Once
		methods map[string]bool
	)
	return func(m string) bool {
		once.Do(func() {
			methods = map[string]bool{}
			for svc, info := range s.GetServiceInfo() {
				for _, mi := range info.Methods {
					methods["/"+svc+"/"+mi.Name] = true
				}
			}
		})
		return methods[m]
	}
}

// Compiled reports whether the descriptor of the gRPC method fullMethod ("/pkg.Service/Method")
// is compiled into the binary.
func Compiled(fullMethod string) bool {
	name, ok := strings.CutPrefix(fullMethod, "/")
	if !ok || strings.Count(name, "/") != 1 {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.Replace(name, "/", ".", 1)))
	if err != nil {
		return false
	}
	_, ok = d.(protoreflect.MethodDescriptor)
	return ok
}

// knownMethods renames the calls of unknown methods before the wrapped handler sees them.
type knownMethods struct {
	stats.Handler
	known func(string) bool
}

func (k knownMethods) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !k.known(info.FullMethodName) {
		renamed := *info
		renamed.FullMethodName = UnknownMethod
		info = &renamed
	}
	return k.Handler.TagRPC(ctx, info)
}
