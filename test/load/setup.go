package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// platform is one running set-up: where its front door, its budget service and its NATS server
// are, and the processes the run owns.
type platform struct {
	setup   string // "standalone" or "distributed"
	rest    string // http://host:port of the gateway (REST, and gRPC on the same port)
	gateway string // host:port of the gateway for gRPC clients
	direct  string // host:port of the budget service's gRPC port; empty when it is not reachable (standalone)
	// directVendors, directRisk and directTalent are host:port of those services' gRPC ports,
	// when direct is set.
	directVendors, directRisk, directTalent string
	natsURL                                 string
	adminKey                                string // the bootstrap API key

	main     *proc.Child // the process whose memory is reported (standalone: the only one)
	children []*proc.Child
	nats     *proc.Child       // the NATS server the run owns and may stop (distributed with -nats-server)
	debug    map[string]string // process name -> debug (pprof) address
	binDir   string

	eventPrefix string // QUARTERDECK_EVENT_SUBJECT_PREFIX of the run's services

	teardown []func()
}

// stop stops every process the run started and removes what it created, in reverse order.
func (p *platform) stop() {
	for i := len(p.teardown) - 1; i >= 0; i-- {
		p.teardown[i]()
	}
}

// ownsNATS reports whether the run can stop and restart the NATS server (for the backlog).
func (p *platform) ownsNATS() bool { return p.nats != nil }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// loopbacks returns n free loopback addresses.
func loopbacks(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = "127.0.0.1:" + strconv.Itoa(port)
	}
	return out, nil
}

// commonEnv is the environment of every Quarterdeck process of a run: quiet logs, no per-key or
// per-address rate limits (the harness is one caller at one address sending thousands of calls a
// second; the limits are the gateway's protection, not the platform's capacity).
func commonEnv() []string {
	return []string{
		"QUARTERDECK_LOG_LEVEL=warn",
		"QUARTERDECK_SHUTDOWN_TIMEOUT=10s",
		"QUARTERDECK_GATEWAY_RATE_LIMIT_PER_KEY=0",
		"QUARTERDECK_GATEWAY_RATE_LIMIT_PER_IP=0",
	}
}

// startStandalone runs the quarterdeck binary on its embedded defaults: SQLite files in a fresh
// data folder and the in-process NATS server.
func startStandalone(ctx context.Context, cfg config, dir string, log *slog.Logger) (*platform, error) {
	p := &platform{setup: "standalone", adminKey: "qd_bench_" + randomHex(20), debug: map[string]string{}, binDir: cfg.BinDir, eventPrefix: "quarterdeck"}
	addrs, err := loopbacks(2)
	if err != nil {
		return nil, err
	}
	httpAddr, debugAddr := addrs[0], addrs[1]
	natsPort, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "standalone-data")
	c := p.binary(cfg, dir, "quarterdeck", debugAddr,
		"QUARTERDECK_HTTP_ADDR="+httpAddr,
		"QUARTERDECK_DATA_DIR="+data,
		"QUARTERDECK_NATS_PORT="+strconv.Itoa(natsPort),
		"QUARTERDECK_NATS_URL=",
		"QUARTERDECK_DATABASE_URL=",
		"QUARTERDECK_BOOTSTRAP_API_KEY="+p.adminKey,
	)
	p.rest, p.gateway, p.natsURL = "http://"+httpAddr, httpAddr, fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	p.main = c
	if err := p.startChild(c); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p.rest+"/readyz", c, cfg.StartTimeout); err != nil {
		p.stop()
		return nil, err
	}
	log.Info("standalone platform ready", "http", httpAddr, "nats", p.natsURL, "data", data)
	return p, nil
}

// startDistributed runs the services as separate processes on shared servers: a fresh database on
// the PostgreSQL server (dropped at the end), a NATS server (started by the run from -nats-server,
// or an existing one from -nats-url), quarterdeck-budget, quarterdeck-vendors (on a database of its
// own, calling budget), quarterdeck-risk, quarterdeck-talent (calling budget) and quarterdeck-briefing (each on a
// database of its own) and quarterdeck-gateway.
func startDistributed(ctx context.Context, cfg config, dir string, log *slog.Logger) (_ *platform, err error) {
	p := &platform{setup: "distributed", adminKey: "qd_bench_" + randomHex(20), debug: map[string]string{}, binDir: cfg.BinDir, eventPrefix: "quarterdeck"}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	dsn, err := createDatabase(ctx, cfg.PostgresDSN, "quarterdeck_bench_"+randomHex(4), p)
	if err != nil {
		return nil, err
	}

	switch {
	case cfg.NATSServer != "":
		port, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		p.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
		store := filepath.Join(dir, "nats-store")
		// sync_interval: always is the durable setting docs/durability.md recommends for a single
		// server: JetStream flushes every message to disk before acknowledging it.
		conf := filepath.Join(dir, "nats-server.conf")
		text := fmt.Sprintf("listen: 127.0.0.1:%d\nserver_name: bench\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", port, store)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		p.nats = &proc.Child{Name: "nats-server", Bin: cfg.NATSServer, Args: []string{"-c", conf}, Log: filepath.Join(dir, "nats-server.log")}
		if err := p.startChild(p.nats); err != nil {
			return nil, err
		}
		if err := waitNATS(ctx, p.natsURL, cfg.StartTimeout); err != nil {
			return nil, err
		}
	case cfg.NATSURL != "":
		// A shared server: a subject prefix (and so a stream) of the run's own, deleted at the end.
		p.natsURL = cfg.NATSURL
		p.eventPrefix = "qdbench" + randomHex(3)
		p.teardown = append(p.teardown, func() {
			for _, domain := range []string{"budget", "vendors", "risk", "talent", "briefing", "iam"} {
				deleteStream(p.natsURL, events.StreamName(p.eventPrefix, domain))
			}
		})
	default:
		return nil, errors.New("the distributed set-up needs -nats-server (a nats-server binary the run starts) or -nats-url")
	}

	// The gateway signs identities with identitytest's key pair (made once per process) and the
	// harness signs its direct calls with the same key, so the service trusts both.
	key := identitytest.PrivateKey()

	vendorsDSN, err := createDatabase(ctx, cfg.PostgresDSN, "quarterdeck_bench_vendors_"+randomHex(4), p)
	if err != nil {
		return nil, err
	}
	riskDSN, err := createDatabase(ctx, cfg.PostgresDSN, "quarterdeck_bench_risk_"+randomHex(4), p)
	if err != nil {
		return nil, err
	}
	briefingDSN, err := createDatabase(ctx, cfg.PostgresDSN, "quarterdeck_bench_briefing_"+randomHex(4), p)
	if err != nil {
		return nil, err
	}
	talentDSN, err := createDatabase(ctx, cfg.PostgresDSN, "quarterdeck_bench_talent_"+randomHex(4), p)
	if err != nil {
		return nil, err
	}
	addrs, err := loopbacks(12)
	if err != nil {
		return nil, err
	}
	budgetAddr, budgetDebug, httpAddr, gatewayDebug := addrs[0], addrs[1], addrs[2], addrs[3]
	vendorsAddr, vendorsDebug, riskAddr, riskDebug := addrs[4], addrs[5], addrs[6], addrs[7]
	briefingAddr, briefingDebug := addrs[8], addrs[9]
	talentAddr, talentDebug := addrs[10], addrs[11]
	budget := p.binary(cfg, dir, "quarterdeck-budget", budgetDebug,
		"QUARTERDECK_GRPC_ADDR="+budgetAddr,
		"QUARTERDECK_DATABASE_URL="+dsn,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
	)
	p.direct = budgetAddr
	if err := p.startChild(budget); err != nil {
		return nil, err
	}

	vendors := p.binary(cfg, dir, "quarterdeck-vendors", vendorsDebug,
		"QUARTERDECK_GRPC_ADDR="+vendorsAddr,
		"QUARTERDECK_DATABASE_URL="+vendorsDSN,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_PEER_BUDGET_ADDR="+budgetAddr,
		"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
	)
	p.directVendors = vendorsAddr
	if err := p.startChild(vendors); err != nil {
		return nil, err
	}

	// The risk and talent services take the portal scenario's share and the scheduler's items;
	// the create path's CPU profiles leave them out.
	risk := p.binary(cfg, dir, "quarterdeck-risk", riskDebug,
		"QUARTERDECK_GRPC_ADDR="+riskAddr,
		"QUARTERDECK_DATABASE_URL="+riskDSN,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
	)
	p.directRisk = riskAddr
	delete(p.debug, "quarterdeck-risk") // not on the create path: no CPU profile of it
	if err := p.startChild(risk); err != nil {
		return nil, err
	}

	talent := p.binary(cfg, dir, "quarterdeck-talent", talentDebug,
		"QUARTERDECK_GRPC_ADDR="+talentAddr,
		"QUARTERDECK_DATABASE_URL="+talentDSN,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_PEER_BUDGET_ADDR="+budgetAddr,
		"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
	)
	p.directTalent = talentAddr
	delete(p.debug, "quarterdeck-talent") // nor this one
	if err := p.startChild(talent); err != nil {
		return nil, err
	}

	// The briefing follows the streams the scenarios fill, for the gateway's readiness too.
	briefing := p.binary(cfg, dir, "quarterdeck-briefing", briefingDebug,
		"QUARTERDECK_GRPC_ADDR="+briefingAddr,
		"QUARTERDECK_DATABASE_URL="+briefingDSN,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
	)
	delete(p.debug, "quarterdeck-briefing")
	if err := p.startChild(briefing); err != nil {
		return nil, err
	}

	gw := p.binary(cfg, dir, "quarterdeck-gateway", gatewayDebug,
		"QUARTERDECK_HTTP_ADDR="+httpAddr,
		"QUARTERDECK_BUDGET_ADDR="+budgetAddr,
		"QUARTERDECK_VENDORS_ADDR="+vendorsAddr,
		"QUARTERDECK_RISK_ADDR="+riskAddr,
		"QUARTERDECK_TALENT_ADDR="+talentAddr,
		"QUARTERDECK_BRIEFING_ADDR="+briefingAddr,
		"QUARTERDECK_GATEWAY_DATABASE_URL="+dsn,
		"QUARTERDECK_NATS_URL="+p.natsURL,
		"QUARTERDECK_EVENT_SUBJECT_PREFIX="+p.eventPrefix,
		"QUARTERDECK_BOOTSTRAP_API_KEY="+p.adminKey,
		"QUARTERDECK_IDENTITY_SIGNING_KEY="+identity.EncodePrivateKey(key),
	)
	p.rest, p.gateway = "http://"+httpAddr, httpAddr
	p.main = budget
	if err := p.startChild(gw); err != nil {
		return nil, err
	}
	// /readyz answers 200 once the gateway sees every service SERVING.
	if err := waitReady(ctx, p.rest+"/readyz", gw, cfg.StartTimeout); err != nil {
		return nil, err
	}
	log.Info("distributed platform ready", "http", httpAddr, "budget", budgetAddr, "vendors", vendorsAddr, "nats", p.natsURL, "database", redact(dsn))
	return p, nil
}

// binary describes one of the platform's binaries as a child process: its log in dir, the run's
// common environment plus env, and Go profiling on debugAddr (which the platform notes).
// The distributed set-up's processes get the GOMAXPROCS of -service-procs and -gateway-procs:
// on a machine of few cores shared by seven Go processes, each one's idle Ps spin and wake one
// another's threads for every hand-off, as they do not in a pod whose CPU limit sets GOMAXPROCS.
func (p *platform) binary(cfg config, dir, name, debugAddr string, env ...string) *proc.Child {
	p.debug[name] = debugAddr
	common := append(commonEnv(), "QUARTERDECK_DEBUG_ADDR="+debugAddr)
	n := cfg.ServiceProcs
	switch name {
	case "quarterdeck": // standalone: one process, Go's default
		n = 0
	case "quarterdeck-gateway":
		n = cfg.GatewayProcs
	}
	if n > 0 {
		common = append(common, "GOMAXPROCS="+strconv.Itoa(n))
	}
	if m := cfg.DatabaseMaxConns; m > 0 {
		common = append(common, "QUARTERDECK_DATABASE_MAX_CONNS="+strconv.Itoa(m), "QUARTERDECK_GATEWAY_DATABASE_MAX_CONNS="+strconv.Itoa(m))
	}
	return &proc.Child{
		Name: name,
		Bin:  filepath.Join(cfg.BinDir, name),
		Log:  filepath.Join(dir, name+".log"),
		Env:  append(common, env...),
	}
}

func (p *platform) startChild(c *proc.Child) error {
	if err := c.Start(); err != nil {
		return err
	}
	p.children = append(p.children, c)
	p.teardown = append(p.teardown, func() { c.Stop(15 * time.Second) })
	return nil
}

// createDatabase creates a database of its own for the run on the server of dsn, and returns the
// DSN naming it; the platform's teardown drops it.
func createDatabase(ctx context.Context, dsn, name string, p *platform) (string, error) {
	if dsn == "" {
		return "", errors.New("the distributed set-up needs a PostgreSQL server: -postgres-dsn or QUARTERDECK_TEST_POSTGRES_DSN")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	p.teardown = append(p.teardown, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			slog.Error("drop benchmark database", "database", name, "error", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			slog.Error("drop benchmark database", "database", name, "error", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL DSN: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// waitReady polls url until it answers 200, the process exits, or timeout passes.
func waitReady(ctx context.Context, url string, c *proc.Child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !c.Running() {
			return fmt.Errorf("%s exited before it was ready (see %s)", c.Name, c.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (see %s)", c.Name, timeout, c.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteStream deletes a stream the run made on a server it does not own.
func deleteStream(natsURL, name string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		slog.Error("delete benchmark stream", "stream", name, "error", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = js.DeleteStream(ctx, name)
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		slog.Error("delete benchmark stream", "stream", name, "error", err)
	}
}

// waitNATS waits until a JetStream-enabled NATS server answers at url.
func waitNATS(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("NATS at %s not up after %s: %w", url, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkBinaries reports the binaries of names that dir lacks.
func checkBinaries(dir string, names ...string) error {
	var missing []string
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found in %s (`make build` puts them in ./bin)", strings.Join(missing, ", "), dir)
	}
	return nil
}
