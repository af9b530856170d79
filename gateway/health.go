package gateway

import (
	"context"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthWatchInterval is how often Watch looks at the backends again.
const healthWatchInterval = 5 * time.Second

// health serves the standard grpc.health.v1 protocol on the gateway's own port, without
// authentication like /readyz, so that grpc-health-probe and Kubernetes gRPC probes work against
// the front door. The service "" is the whole platform: SERVING when every backend is, as for
// /readyz. A backend's domain ("budget") or one of the gRPC services it owns
// ("quarterdeck.budget.v1.BudgetService") is that backend alone.
type health struct {
	healthpb.UnimplementedHealthServer
	g      *Gateway
	owners map[string]string // gRPC service or domain → domain
}

func registerHealth(s *grpc.Server, g *Gateway, routes map[string]*grpc.ClientConn) {
	h := &health{g: g, owners: map[string]string{}}
	for domain, conn := range g.conns {
		h.owners[domain] = domain
		for service, c := range routes {
			if c == conn {
				h.owners[service] = domain
			}
		}
	}
	healthpb.RegisterHealthServer(s, h)
}

func (h *health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, err := h.status(ctx, req.GetService())
	if err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

func (h *health) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	states := h.g.backendStates(ctx)
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{
		"": {Status: overall(states)},
	}}
	for name, domain := range h.owners {
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: states[domain]}
	}
	return out, nil
}

// Watch sends the service's status, then each change, until the client goes away.
func (h *health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx := stream.Context()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	tick := time.NewTicker(healthWatchInterval)
	defer tick.Stop()
	for {
		st, err := h.status(ctx, req.GetService())
		if status.Code(err) == codes.NotFound {
			st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN // as the protocol says for Watch
		} else if err != nil {
			return err
		}
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-tick.C:
		}
	}
}

func (h *health) status(ctx context.Context, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	if service == "" {
		return overall(h.g.backendStates(ctx)), nil
	}
	domain, ok := h.owners[service]
	if !ok {
		return 0, status.Errorf(codes.NotFound, "unknown service %q; known: %v", service, h.names())
	}
	return h.g.backendState(ctx, domain), nil
}

func (h *health) names() []string {
	names := make([]string, 0, len(h.owners))
	for n := range h.owners {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// overall is SERVING when every backend is.
func overall(states map[string]healthpb.HealthCheckResponse_ServingStatus) healthpb.HealthCheckResponse_ServingStatus {
	for _, st := range states {
		if st != healthpb.HealthCheckResponse_SERVING {
			return healthpb.HealthCheckResponse_NOT_SERVING
		}
	}
	return healthpb.HealthCheckResponse_SERVING
}

// backendStates asks every backend for its health, at once.
func (g *Gateway) backendStates(ctx context.Context) map[string]healthpb.HealthCheckResponse_ServingStatus {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		states = map[string]healthpb.HealthCheckResponse_ServingStatus{}
	)
	for domain := range g.conns {
		wg.Go(func() {
			st := g.backendState(ctx, domain)
			mu.Lock()
			defer mu.Unlock()
			states[domain] = st
		})
	}
	wg.Wait()
	return states
}

// backendState is what the backend of domain says of itself; NOT_SERVING when it does not
// answer within the readiness timeout.
func (g *Gateway) backendState(ctx context.Context, domain string) healthpb.HealthCheckResponse_ServingStatus {
	ctx, cancel := context.WithTimeout(ctx, g.readyTTL)
	defer cancel()
	resp, err := healthpb.NewHealthClient(g.conns[domain]).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return healthpb.HealthCheckResponse_NOT_SERVING
	}
	return resp.GetStatus()
}
