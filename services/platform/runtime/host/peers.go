package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
)

// PeerSetting is the setting of the address of the peer name in a service's own binary, e.g.
// QUARTERDECK_PEER_BUDGET_ADDR (--peer-budget-addr).
func PeerSetting(name string) string {
	return fmt.Sprintf("QUARTERDECK_PEER_%s_ADDR (--peer-%s-addr)", strings.ToUpper(name), name)
}

// peers are a running service's connections to the services it calls, and the watches of their
// health.
type peers struct {
	conns  map[string]*peer.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// dialPeers makes a connection to each service svc calls, at the address opts gives it. The
// connections are lazy: a peer that is down fails the calls made to it, not the start.
func dialPeers(svc Service, opts Options, log *slog.Logger) (*peers, error) {
	p := &peers{conns: make(map[string]*peer.Conn, len(svc.Peers))}
	var dial []grpc.DialOption
	if len(svc.Peers) > 0 {
		creds, err := opts.TLS.DialOption()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc.Domain, err)
		}
		dial = append(dial, creds)
	}
	for _, name := range svc.Peers {
		if _, dup := p.conns[name]; dup {
			_ = p.close()
			return nil, fmt.Errorf("%s: peer %s is declared twice", svc.Domain, name)
		}
		target := opts.Peers[name]
		if target == "" {
			_ = p.close()
			return nil, fmt.Errorf("%s: no address of %s, a service it calls; set %s", svc.Domain, name, PeerSetting(name))
		}
		c, err := peer.Dial(name, target, peer.Options{Caller: svc.Domain, Logger: log, DialOptions: dial})
		if err != nil {
			_ = p.close()
			return nil, fmt.Errorf("%s: %w", svc.Domain, err)
		}
		p.conns[name] = c
	}
	return p, nil
}

// watch reports the health of each peer in hs, under peer.HealthName, until close. The
// service's own health is not touched: it serves what does not need the peer. Each peer is
// NOT_SERVING until its watch sees it serving, from the start: a probe of a peer's name made as
// soon as the service listens gets that rather than NOT_FOUND, an unknown service.
func (p *peers) watch(hs *health.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for _, c := range p.conns {
		hs.SetServingStatus(peer.HealthName(c.Name()), healthpb.HealthCheckResponse_NOT_SERVING)
	}
	for _, c := range p.conns {
		p.wg.Go(func() {
			c.Watch(ctx, func(s healthpb.HealthCheckResponse_ServingStatus) {
				hs.SetServingStatus(peer.HealthName(c.Name()), s)
			})
		})
	}
}

// close stops the watches and closes the connections.
func (p *peers) close() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	var errs []error
	for _, c := range p.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// checkPeers makes sure that the binary lists every peer its service calls: the binary's list
// makes their settings, the service's list the connections. The binary may list more: a service
// calls some peers only under some of its settings (budget calls talent under the owner write
// policy, for the members of the teams that own budgets), and its binary offers their settings
// whatever the service's.
func (b Binary) checkPeers(svc Service) error {
	calls := slices.Compact(slices.Sorted(slices.Values(svc.Peers)))
	lists := slices.Sorted(maps.Keys(b.Peers))
	if slices.ContainsFunc(calls, func(p string) bool { return !slices.Contains(lists, p) }) {
		return fmt.Errorf("host: %s calls the services %v but its Binary lists the peers %v", b.Program(), calls, lists)
	}
	return nil
}

// withPeers returns the settings a service's binary loads: the common ones (T) and, for each
// peer the binary lists, its address QUARTERDECK_PEER_<NAME>_ADDR with the binary's default.
// common points into cfg; addrs reads the peers' addresses once cfg is loaded. The peers are
// known only at run time, so their settings are fields of a struct made for the binary.
func withPeers[T any](b Binary) (cfg any, common *T, addrs func() map[string]string) {
	if len(b.Peers) == 0 {
		common = new(T)
		return common, common, func() map[string]string { return nil }
	}
	names := slices.Sorted(maps.Keys(b.Peers))
	fields := make([]reflect.StructField, len(names))
	for i, name := range names {
		tag := fmt.Sprintf(`env:%q help:%q`, "PEER_"+strings.ToUpper(name)+"_ADDR",
			"gRPC target of the "+name+" service, which {domain} calls, e.g. dns:///"+name+":9001")
		if def := b.Peers[name]; def != "" {
			tag += fmt.Sprintf(` default:%q`, def)
		} else {
			tag += ` required:"true"`
		}
		fields[i] = reflect.StructField{Name: fmt.Sprintf("Peer%d", i), Type: reflect.TypeFor[string](), Tag: reflect.StructTag(tag)}
	}
	v := reflect.New(reflect.StructOf([]reflect.StructField{
		{Name: "Common", Type: reflect.TypeFor[T]()},
		{Name: "Peers", Type: reflect.StructOf(fields)},
	})).Elem()
	addrs = func() map[string]string {
		m := make(map[string]string, len(names))
		for i, name := range names {
			m[name] = v.Field(1).Field(i).String()
		}
		return m
	}
	return v.Addr().Interface(), v.Field(0).Addr().Interface().(*T), addrs
}
