// Package gateway is Quarterdeck's front door: on one port it serves the REST API of every domain
// service through grpc-gateway, the gRPC API of every service through a transparent proxy, the
// merged OpenAPI document and its reference page (/docs), the web console (/console), and the health and readiness probes.
// REST calls reach the services over gRPC through their full interceptor chain, never by calling
// the handlers in-process. Every call is authenticated (Options.Authenticator), rate-limited,
// size-limited and given a deadline here, before it reaches a service.
package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/quarterdeck/quarterdeck/gateway/apiref"
	"github.com/quarterdeck/quarterdeck/gateway/asyncapi"
	"github.com/quarterdeck/quarterdeck/gateway/console"
	"github.com/quarterdeck/quarterdeck/gateway/openapi"
	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"

	// The operations API is served by every service; its descriptors are needed to route and
	// describe (reflection) its gRPC calls.
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
)

// ErrorDomain is the ErrorInfo domain of errors the gateway raises itself (malformed JSON, an
// unknown route), as opposed to those a service returns.
const ErrorDomain = "gateway.quarterdeck.io"

// HeaderRequestID carries the id of a request; a client may send one, otherwise the gateway makes
// one. It is echoed on the response and forwarded to the services.
const HeaderRequestID = "X-Request-Id"

// HeaderIdempotencyKey carries a client's idempotency key: the services use it as the request_id
// of a call that has one (AIP-155), unless the body sets a different one (then 400).
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderIfMatch carries the etag a write is conditional on: the services use it as the request's
// etag, or the etag of the resource an update carries, unless the body sets a different one (400).
const HeaderIfMatch = "If-Match"

// registrar mounts a domain's REST API on a mux, its calls going over a connection.
type registrar func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error

// mount makes a registrar of a gRPC service's generated RegisterXHandlerClient and NewXClient.
func mount[C any](register func(context.Context, *runtime.ServeMux, C) error, client func(grpc.ClientConnInterface) C) registrar {
	return func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		return register(ctx, mux, client(cc))
	}
}

// registrars maps each domain to the function that mounts its REST API on a mux: the APIs of
// every gRPC service the domain's binary serves (risk serves RiskService, IncidentService and ComplianceService).
var registrars = map[string]registrar{
	"briefing": mount(briefingv1.RegisterBriefingServiceHandlerClient, briefingv1.NewBriefingServiceClient),
	"budget":   mount(budgetv1.RegisterBudgetServiceHandlerClient, budgetv1.NewBudgetServiceClient),
	"vendors":  mount(vendorsv1.RegisterVendorsServiceHandlerClient, vendorsv1.NewVendorsServiceClient),
	"risk": mountAll(mount(riskv1.RegisterRiskServiceHandlerClient, riskv1.NewRiskServiceClient),
		mount(riskv1.RegisterIncidentServiceHandlerClient, riskv1.NewIncidentServiceClient),
		mount(riskv1.RegisterComplianceServiceHandlerClient, riskv1.NewComplianceServiceClient)),
	"talent": mount(talentv1.RegisterTalentServiceHandlerClient, talentv1.NewTalentServiceClient),
}

// mountAll mounts the REST APIs of several gRPC services served over one connection.
func mountAll(fs ...registrar) registrar {
	return func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
		for _, f := range fs {
			if err := f(ctx, mux, cc); err != nil {
				return err
			}
		}
		return nil
	}
}

// The HTTP/2 flow-control windows of the connections to the services (see New): a stream may
// have 1 MiB of response in flight, the connection 4 MiB.
const (
	backendStreamWindow = 1 << 20
	backendConnWindow   = 4 << 20
)

// Domains lists the domains whose REST API the gateway serves.
func Domains() []string { return slices.Sorted(maps.Keys(registrars)) }

// Options configures a gateway.
type Options struct {
	// Backends maps each domain to the gRPC target of its service, e.g. "127.0.0.1:9001" or
	// "dns:///budget:9090". Every domain in Domains must have one.
	Backends map[string]string
	Logger   *slog.Logger
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// ReadyTimeout bounds each backend health check of /readyz (default 2s).
	ReadyTimeout time.Duration
	// Authenticator authenticates every REST and gRPC call. When nil, the gateway authenticates
	// nobody and forwards no identity, so services, which require one, refuse every call: that is
	// for tests of the gateway alone; the binaries always set one.
	Authenticator Authenticator
	// Reflection serves gRPC server reflection on the port, describing every service's API.
	Reflection bool
	// Settings are the operator's listener settings and limits.
	Settings Settings
	// BackendCredentials secure the connections to the domain services (nil: cleartext); see
	// rpc.TLS. The gateway's own admin backend (iam), on loopback in the same process, stays
	// cleartext.
	BackendCredentials credentials.TransportCredentials
	// Console configures the web console served at /console (its OIDC sign-in).
	Console console.Options
	// refusalTicks, when set, replaces the per-minute ticker of the refusals' summary (tests).
	refusalTicks <-chan time.Time
	// MeterProvider records the gateway's HTTP and gRPC metrics (default: the global one, which
	// telemetry.Setup installs).
	MeterProvider metric.MeterProvider
	// Local, for a domain whose service runs in the gateway's process (the standalone set-up),
	// takes the unary calls of its REST API without a socket (rpc.Local). Streams, gRPC clients'
	// calls and health checks still go to its Backends address.
	Local map[string]*rpc.Local
}

// Gateway is the HTTP handler of the front door.
type Gateway struct {
	handler  http.Handler
	grpc     *grpc.Server
	mux      *runtime.ServeMux
	conns    map[string]*grpc.ClientConn
	log      *slog.Logger
	readyTTL time.Duration
	meters   metric.MeterProvider
	auth     Authenticator
	set      Settings
	tls      *tls.Config
	origins  map[string]struct{}
	perIP    *limiter
	perKey   *limiter
	serverMu sync.Mutex
	server   *http.Server // set by Serve

	bodies      map[string]bodyField // REST route → where its body goes, for decode errors
	refused     *refusals
	stopSummary func() // stops the refusals' summary and waits for its last line
}

// New connects to the backends and builds the handler. Connections are lazy: a backend that is
// down makes its calls fail with UNAVAILABLE (HTTP 503) and /readyz report it, not New fail.
func New(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Second
	}
	set := opts.Settings.withDefaults()
	g := &Gateway{
		conns: map[string]*grpc.ClientConn{}, log: opts.Logger, readyTTL: opts.ReadyTimeout,
		auth: opts.Authenticator, set: set, origins: map[string]struct{}{}, meters: opts.MeterProvider,
		perIP:  newLimiter(set.RateLimitPerIP, set.RateLimitPerIPBurst),
		perKey: newLimiter(set.RateLimitPerKey, set.RateLimitPerKeyBurst),
		bodies: bodyFields(),
	}
	for _, o := range set.CORSAllowedOrigins {
		g.origins[strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))] = struct{}{}
	}
	if (set.TLSCertFile == "") != (set.TLSKeyFile == "") {
		return nil, errors.New("gateway: a TLS certificate needs its key and a key its certificate (GATEWAY_TLS_CERT_FILE, GATEWAY_TLS_KEY_FILE)")
	}
	if set.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(set.TLSCertFile, set.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: TLS certificate: %w", err)
		}
		g.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	muxOptions := []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				// Unpopulated fields stay out of responses (and error details carry no nulls);
				// unknown fields in a request body are an error, not silently dropped.
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		// Services' response metadata is theirs; none of it becomes an HTTP header.
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(g.errorHandler),
		// The caller's signed identity, from the Authenticator, goes with the call.
		runtime.WithMetadata(func(ctx context.Context, _ *http.Request) metadata.MD {
			c, _ := callerFrom(ctx)
			return c.md
		}),
	}
	mux := runtime.NewServeMux(muxOptions...)
	g.mux = mux
	domains := Domains()
	domainMux := map[string]*runtime.ServeMux{}
	calls := map[string]grpc.ClientConnInterface{} // each domain's unary calls: its connection, or Local
	for d := range adminRegistrars {
		if opts.Backends[d] != "" {
			domains = append(domains, d)
		}
	}
	for _, domain := range domains {
		register, ok := registrars[domain]
		if !ok {
			register = adminRegistrars[domain]
		}
		target, ok := opts.Backends[domain]
		if !ok || target == "" {
			g.Close()
			return nil, fmt.Errorf("gateway: no backend address for %s", domain)
		}
		creds := opts.BackendCredentials
		if creds == nil || adminRegistrars[domain] != nil {
			creds = insecure.NewCredentials()
		}
		conn, err := grpc.NewClient(target,
			grpc.WithTransportCredentials(creds),
			// Calls spread over every address of the target: every replica of a service behind a
			// dns:/// name that resolves to each of them (a headless Kubernetes Service).
			grpc.WithDefaultServiceConfig(rpc.RoundRobin),
			// Fixed flow-control windows, large enough for any response at the speed of a
			// data centre's network: with the default dynamic ones, gRPC measures the
			// bandwidth-delay product with a ping after every response that finds none in
			// flight, which for small unary calls at a few hundred a second is a ping, its
			// acknowledgement and a window update per call, on both sides.
			grpc.WithInitialWindowSize(backendStreamWindow), grpc.WithInitialConnWindowSize(backendConnWindow),
			grpc.WithStatsHandler(telemetry.GRPCClientHandler(otelgrpc.WithMeterProvider(g.meters))))
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway: %s backend %s: %w", domain, target, err)
		}
		g.conns[domain] = conn
		var cc grpc.ClientConnInterface = conn
		if l := opts.Local[domain]; l != nil {
			cc = rpc.LocalFirst{ClientConn: conn, Local: l}
		}
		cc = textChecked{cc}
		calls[domain] = cc
		if err := register(ctx, mux, cc); err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway: register %s: %w", domain, err)
		}
		// The domain's own mux as well, for the calls routed by their collection (routes.go).
		own := runtime.NewServeMux(muxOptions...)
		if err := register(ctx, own, cc); err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway: register %s: %w", domain, err)
		}
		domainMux["quarterdeck."+domain+".v1"] = own
	}
	if err := registerOperations(ctx, mux, calls); err != nil {
		g.Close()
		return nil, fmt.Errorf("gateway: register operations: %w", err)
	}

	g.grpc = g.newGRPCServer(opts.Reflection)
	if g.auth == nil {
		g.log.Warn("gateway without an authenticator: calls are not authenticated and carry no identity, so services refuse them")
	}

	// The refusals' summary, stopped by Close.
	g.refused = newRefusals(g.log, time.Now())
	ticks := opts.refusalTicks
	stopTicker := func() {}
	if ticks == nil {
		ticker := time.NewTicker(refusalSummaryEvery)
		ticks, stopTicker = ticker.C, ticker.Stop
	}
	summaryCtx, cancelSummary := context.WithCancel(context.WithoutCancel(ctx))
	summaryDone := make(chan struct{})
	go func() {
		defer close(summaryDone)
		g.refused.run(summaryCtx, ticks)
	}()
	g.stopSummary = sync.OnceFunc(func() {
		cancelSummary()
		<-summaryDone
		stopTicker()
	})

	root := http.NewServeMux()
	// The API: limits first, then who is calling, then the edge conventions.
	root.Handle("/v1/", g.ipLimit(g.bodyCap(g.authenticateREST(g.strictBody(g.clampPageSize(g.deadline(newRouter(mux, domainMux))))))))
	root.Handle("GET /docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently))
	root.Handle("GET /docs/", http.StripPrefix("/docs", apiref.Handler()))
	root.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	root.Handle("GET /console/", http.StripPrefix("/console", console.Handler(opts.Console)))
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.HandleFunc("GET /readyz", g.ready)
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document)
	})
	// The events' contract: every subject, its CloudEvents headers and its payload's schema.
	root.HandleFunc("GET /asyncapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(asyncapi.Document)
	})
	if opts.Metrics != nil {
		root.Handle("GET /metrics", opts.Metrics)
	}
	g.handler = otelhttp.NewHandler(g.accessLog(requestID(g.sizeLimits(g.cors(root)))), "gateway",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
		otelhttp.WithMeterProvider(g.meters),
		// The tracer is taken once, not looked up in the provider on every request: the provider
		// telemetry.Setup installed, or, before it is, the global one, which forwards to it.
		otelhttp.WithTracerProvider(otel.GetTracerProvider()))
	return g, nil
}

// ServeHTTP implements http.Handler: gRPC calls (HTTP/2, Content-Type application/grpc) go to
// the proxy, everything else to the REST handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		g.grpc.ServeHTTP(w, r)
		return
	}
	g.handler.ServeHTTP(w, r)
}

// Close closes the backend connections. Stop serving (Shutdown) first.
func (g *Gateway) Close() error {
	if g.grpc != nil {
		g.grpc.Stop() // ends any gRPC call still running through the proxy
	}
	if g.stopSummary != nil {
		g.stopSummary()
	}
	var errs []error
	for _, c := range g.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// ready answers 200 when every backend reports SERVING on the gRPC health protocol, 503 otherwise,
// with each backend's state in the body under "checks".
//
// Under "peers" it shows, for each backend that calls other services, the state of each of
// those as the backend sees it (the health names peer.HealthPrefix+<peer>), e.g.
// {"vendors": {"budget": "NOT_SERVING"}}. A peer that is down does not make the gateway not
// ready: the backend that calls it still serves everything that does not need it, and taking
// the whole front door out of rotation would stop that too. When the gateway cannot reach the
// peer either, its own check already says so.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		checks = map[string]string{}
		peers  = map[string]map[string]string{}
		ok     = true
	)
	for domain, conn := range g.conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), g.readyTTL)
			defer cancel()
			hc := healthpb.NewHealthClient(conn)
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			state := resp.GetStatus().String()
			if err != nil {
				state = "UNREACHABLE: " + status.Code(err).String()
			}
			var calls map[string]string
			if err == nil {
				calls = peerStates(ctx, hc)
			}
			mu.Lock()
			defer mu.Unlock()
			checks[domain] = state
			if len(calls) > 0 {
				peers[domain] = calls
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				ok = false
			}
		})
	}
	wg.Wait()
	code, word := http.StatusOK, "ready"
	if !ok {
		code, word = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": word, "checks": checks, "peers": peers})
}

// peerStates lists the peers a backend reports in its health service, with their states; none
// when the backend cannot list its health (a server without the List method).
func peerStates(ctx context.Context, hc healthpb.HealthClient) map[string]string {
	list, err := hc.List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		return nil
	}
	states := map[string]string{}
	for name, st := range list.GetStatuses() {
		if p, ok := strings.CutPrefix(name, peer.HealthPrefix); ok {
			states[p] = st.GetStatus().String()
		}
	}
	return states
}

// incomingHeader forwards the request id and the edge conventions' headers (Idempotency-Key,
// If-Match, read by the services' rpc interceptor), besides grpc-gateway's default set of headers;
// it never forwards the client's credentials or a reserved key (ReservedMetadataPrefix).
func incomingHeader(key string) (string, bool) {
	switch http.CanonicalHeaderKey(key) {
	case HeaderRequestID:
		return "x-request-id", true
	case HeaderIdempotencyKey:
		return "idempotency-key", true
	case HeaderIfMatch:
		return "if-match", true
	case "Authorization":
		return "", false
	}
	md, ok := runtime.DefaultHeaderMatcher(key)
	if !ok || !forwardable(md) {
		return "", false
	}
	return md, true
}

// errorHandler writes every error as a google.rpc.Status JSON with the HTTP code of its gRPC code,
// adding an ErrorInfo to errors raised before a service was reached so that every error has one.
// A body over the cap is the gateway's 413.
func (g *Gateway) errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if bodyTooLarge(r.Context()) {
		writeStatus(w, http.StatusRequestEntityTooLarge, g.bodyTooLargeStatus())
		return
	}
	st := g.decodeError(ctx, r, status.Convert(err))
	hasInfo := false
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			hasInfo = true
		}
	}
	if !hasInfo {
		if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: code.Code(st.Code()).String(), Domain: ErrorDomain}); derr == nil {
			st = withInfo
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, st.Err())
}

// requestID makes sure every request has an id, echoed on the response: the client's X-Request-Id
// when it is printable ASCII of at most 128 bytes (what gRPC metadata and a log line carry as it
// is), else a new one.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if id == "" || len(id) > 128 || !printableASCII(id) {
			id = newRequestID()
			r.Header.Set(HeaderRequestID, id)
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog logs each request: failures at info (server errors at error), successes at debug.
// Refusals (401, 429) are logged at debug and counted in the refusals' summary.
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		switch {
		case rec.code == http.StatusUnauthorized:
			g.refused.add(refusedUnauthenticated, clientIP(r.RemoteAddr))
		case rec.code == http.StatusTooManyRequests:
			g.refused.add(refusedRateLimited, clientIP(r.RemoteAddr))
		case rec.code >= 500:
			level = slog.LevelError
		case rec.code >= 400:
			level = slog.LevelInfo
		}
		// Checked first: a disabled line (a success, at debug) costs nothing, not its arguments.
		if g.log.Enabled(r.Context(), level) {
			g.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", rec.code,
				"duration", time.Since(start), "request_id", w.Header().Get(HeaderRequestID))
		}
	})
}

func newRequestID() string { return uuid.NewString() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
