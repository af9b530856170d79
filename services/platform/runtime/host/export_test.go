package host

import (
	"log/slog"

	"google.golang.org/grpc/health"
)

// WatchPeers dials the peers of svc at opts' addresses and starts reporting their health in hs,
// as Start does; it returns what stops it.
func WatchPeers(svc Service, opts Options, hs *health.Server) (stop func() error, err error) {
	p, err := dialPeers(svc, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	p.watch(hs)
	return p.close, nil
}
