package peer

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// HealthPrefix starts the name under which a service's health service reports each of its
// peers: quarterdeck.peer.budget for the budget service. The gateway's /readyz lists them.
const HealthPrefix = "quarterdeck.peer."

// HealthName is the health service name of the peer name.
func HealthName(name string) string { return HealthPrefix + name }

// Bounds of the wait before Watch asks again after the peer was found down: doubled from
// watchRetryMin per failure up to watchRetryMax, so that a peer's return is seen within
// watchRetryMax.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 2 * time.Second
)

// Watch follows the peer's health until ctx ends, calling report with each change of its
// state: NOT_SERVING first, SERVING once the peer says so, NOT_SERVING again as soon as it stops
// saying so or cannot be reached. It returns when ctx ends; the host runs it for every peer.
//
// It watches the peer's overall health (the empty service name) with the health protocol's
// Watch, and leaves the stream as soon as the peer is not SERVING: a stopping peer reports
// NOT_SERVING before it drains its calls, and a stream held open would hold its drain to the
// deadline. It then asks again, every watchRetryMax at most, until the peer is back.
func (c *Conn) Watch(ctx context.Context, report func(healthpb.HealthCheckResponse_ServingStatus)) {
	client := healthpb.NewHealthClient(c.cc)
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	set := func(s healthpb.HealthCheckResponse_ServingStatus, err error) {
		if s == last || ctx.Err() != nil {
			return
		}
		if last >= 0 || s != healthpb.HealthCheckResponse_NOT_SERVING {
			attrs := []any{"status", s.String()}
			if err != nil {
				attrs = append(attrs, "error", err.Error())
			}
			if s == healthpb.HealthCheckResponse_SERVING {
				c.log.InfoContext(ctx, "peer serving", attrs...)
			} else {
				c.log.WarnContext(ctx, "peer not serving", attrs...)
			}
		}
		last = s
		c.status.Store(int32(s))
		report(s)
	}
	set(healthpb.HealthCheckResponse_NOT_SERVING, nil)
	delay := watchRetryMin
	for ctx.Err() == nil {
		if c.watchOnce(ctx, client, set) {
			delay = watchRetryMin
		}
		if !sleep(ctx, delay) {
			return
		}
		delay = min(2*delay, watchRetryMax)
	}
}

// watchOnce watches the peer's health until it is not SERVING or the stream fails. It reports
// whether the peer was SERVING on the way.
func (c *Conn) watchOnce(ctx context.Context, client healthpb.HealthClient, set func(healthpb.HealthCheckResponse_ServingStatus, error)) (served bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	for err == nil {
		var resp *healthpb.HealthCheckResponse
		if resp, err = stream.Recv(); err != nil {
			break
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			// UNKNOWN and SERVICE_UNKNOWN too: whatever is not SERVING does not answer calls.
			set(healthpb.HealthCheckResponse_NOT_SERVING, nil)
			return served
		}
		set(healthpb.HealthCheckResponse_SERVING, nil)
		served = true
	}
	set(healthpb.HealthCheckResponse_NOT_SERVING, err)
	return served
}
