package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// natsServer is the NATS server the program kills: the nats-server binary given with
// -nats-server, or else this program itself re-executed as an embedded server (natsembed, the
// same nats-server version as a library), so the test needs nothing installed.
type natsServer struct {
	proc.Child
	url string
}

func newNATSServer(bin, dir string) (*natsServer, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "nats-store")
	n := &natsServer{url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	n.Name, n.Log = "nats-server", filepath.Join(dir, "nats-server.log")
	if bin != "" {
		// sync_interval: always — the durable setting docs/durability.md recommends for a single
		// server; jetstream config needs a file, the CLI has no flag for it.
		conf := filepath.Join(dir, "nats-server.conf")
		text := fmt.Sprintf("listen: 127.0.0.1:%d\nserver_name: faults\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", port, store)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		n.Bin, n.Args = bin, []string{"-c", conf}
		return n, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate this program to run the embedded NATS server: %w", err)
	}
	n.Bin = self
	n.Env = []string{roleEnv + "=natsd", natsPortEnv + "=" + strconv.Itoa(port), natsStoreEnv + "=" + store}
	return n, nil
}

// replica is one quarterdeck-budget process.
type replica struct {
	proc.Child
	grpcAddr    string
	metricsAddr string
	conn        *grpc.ClientConn
}

func newReplica(i int, bin, dir, natsURL, dsn, schema string, atomicBatches bool) (*replica, error) {
	gp, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	mp, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	r := &replica{grpcAddr: fmt.Sprintf("127.0.0.1:%d", gp), metricsAddr: fmt.Sprintf("127.0.0.1:%d", mp)}
	r.Name, r.Bin, r.Log = fmt.Sprintf("budget-%d", i), bin, filepath.Join(dir, fmt.Sprintf("budget-%d.log", i))
	r.Env = []string{
		"QUARTERDECK_GRPC_ADDR=" + r.grpcAddr,
		"QUARTERDECK_METRICS_ADDR=" + r.metricsAddr,
		"QUARTERDECK_NATS_URL=" + natsURL,
		"QUARTERDECK_DATABASE_URL=" + dsn,
		"QUARTERDECK_DATABASE_SCHEMA=" + schema,
		"QUARTERDECK_LOG_LEVEL=warn",
		"QUARTERDECK_SHUTDOWN_TIMEOUT=5s",
		identityEnv(),
		"QUARTERDECK_EVENT_ATOMIC_BATCHES=" + strconv.FormatBool(atomicBatches),
	}
	if r.conn, err = dial(r.grpcAddr); err != nil {
		return nil, err
	}
	return r, nil
}

// waitServing polls the replica's health service until it reports SERVING. A replica that
// exits (e.g. because NATS was down when it started) is started again.
func (r *replica) waitServing(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := healthpb.NewHealthClient(r.conn)
	for {
		if !r.Running() {
			_ = r.Start()
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not serving after %s (see %s): %v", r.Name, timeout, r.Log, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// holdsLease reads the replica's lease gauge from /metrics.
func (r *replica) holdsLease(ctx context.Context) bool {
	v, ok := scrapeGauge(ctx, r.metricsAddr, "quarterdeck_outbox_relay_lease_held")
	return ok && v == 1
}

// scrapeGauge returns the value of the first sample of metric at addr/metrics.
func scrapeGauge(ctx context.Context, addr, metric string) (float64, bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		return v, err == nil
	}
	return 0, false
}

// waitPort polls until something accepts TCP connections at addr.
func waitPort(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(fmt.Errorf("nothing listens on %s after %s", addr, timeout), err, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}
