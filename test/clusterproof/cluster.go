package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// domains are the services the proof runs, two replicas each: the domain services and the
// briefing read model, which consumes their streams (and which the gateways' readiness needs).
var domains = []string{"budget", "vendors", "risk", "talent", "briefing"}

// streamReplicas is the replication factor of every stream on the 3-node cluster.
const streamReplicas = 3

// cluster is everything one run owns.
type cluster struct {
	cfg config
	dir string
	log *slog.Logger

	pg      *proc.Child
	pgPort  int
	pgAdmin string            // DSN of the server's postgres database
	dsn     map[string]string // database of each service ("gateway" too)

	nats     []*proc.Child
	natsURLs []string

	replicas  map[string][]*replica // domain → its replicas
	balancers map[string]*tcpBalancer
	gateways  []*replica
	front     *frontEnd
	adminKey  string

	teardown []func()
}

// replica is one process of a service or of the gateway.
type replica struct {
	*proc.Child
	addr string // gRPC address (services) or HTTP address (gateways)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func loopback() (string, error) {
	port, err := proc.FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

func (c *cluster) stop() {
	for i := len(c.teardown) - 1; i >= 0; i-- {
		c.teardown[i]()
	}
}

func (c *cluster) own(ch *proc.Child) {
	c.teardown = append(c.teardown, func() { ch.Stop(15 * time.Second) })
}

// start brings the whole platform up: PostgreSQL, NATS, the services, the gateways, the front end.
func (c *cluster) start(ctx context.Context) error {
	for _, n := range []string{"quarterdeck-budget", "quarterdeck-vendors", "quarterdeck-risk", "quarterdeck-talent", "quarterdeck-briefing", "quarterdeck-gateway"} {
		if _, err := os.Stat(filepath.Join(c.cfg.BinDir, n)); err != nil {
			return fmt.Errorf("%s not found in %s (`make build` puts it in ./bin)", n, c.cfg.BinDir)
		}
	}
	if err := c.startPostgres(ctx); err != nil {
		return err
	}
	if err := c.startNATS(ctx); err != nil {
		return err
	}
	if err := c.startServices(ctx); err != nil {
		return err
	}
	return c.startGateways(ctx)
}

// startPostgres makes a database cluster in the work folder and runs PostgreSQL on a port of its
// own. PostgreSQL refuses to run as root: when this program is root (CI containers), initdb and
// the server run as the postgres user, which then owns the data folder.
func (c *cluster) startPostgres(ctx context.Context) error {
	pgDir := filepath.Join(c.dir, "postgres")
	if err := os.Mkdir(pgDir, 0o700); err != nil {
		return err
	}
	var as *proc.User
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		as = &proc.User{UID: uint32(uid), GID: uint32(gid)}
		if err := os.Chown(pgDir, int(uid), int(gid)); err != nil {
			return err
		}
		// The postgres user must reach its folder inside the work folder.
		if err := os.Chmod(c.dir, 0o711); err != nil {
			return err
		}
		c.log.Info("running as root: PostgreSQL runs as the postgres user", "uid", uid)
	}
	data := filepath.Join(pgDir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(c.cfg.PGBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.Dir = pgDir
	if as != nil {
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: as.UID, Gid: as.GID}}
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	c.pgPort = port
	c.pg = &proc.Child{Name: "postgres", Bin: filepath.Join(c.cfg.PGBin, "postgres"), RunAs: as,
		Args: []string{"-D", data, "-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(port), "-k", pgDir,
			"-c", "max_connections=300"},
		Log:        filepath.Join(c.dir, "postgres.log"),
		StopSignal: syscall.SIGINT, // fast shutdown: SIGTERM would wait for every client to leave
	}
	c.pgAdmin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := c.pg.Start(); err != nil {
		return err
	}
	c.own(c.pg)
	if err := c.waitPostgres(ctx, 30*time.Second); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.pgAdmin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	c.dsn = map[string]string{}
	for _, db := range append(append([]string{}, domains...), "gateway") {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return fmt.Errorf("create database %s: %w", db, err)
		}
		c.dsn[db] = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
	}
	c.log.Info("PostgreSQL up", "port", port)
	return nil
}

// waitPostgres waits until the server accepts a connection.
func (c *cluster) waitPostgres(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, c.pgAdmin)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if !c.pg.Running() {
			return fmt.Errorf("postgres exited (see %s)", c.pg.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PostgreSQL not up after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startNATS runs three nats-server processes routed into one JetStream cluster.
func (c *cluster) startNATS(ctx context.Context) error {
	const n = 3
	client, route := make([]int, n), make([]int, n)
	for i := range n {
		var err error
		if client[i], err = proc.FreePort(); err != nil {
			return err
		}
		if route[i], err = proc.FreePort(); err != nil {
			return err
		}
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", route[i]))
	}
	for i := range n {
		name := fmt.Sprintf("nats-%d", i+1)
		conf := filepath.Join(c.dir, name+".conf")
		text := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream {\n  store_dir: %q\n}\ncluster {\n  name: quarterdeck\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n",
			name, client[i], filepath.Join(c.dir, name+"-store"), route[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return err
		}
		ch := &proc.Child{Name: name, Bin: c.cfg.NATSServer, Args: []string{"-c", conf}, Log: filepath.Join(c.dir, name+".log")}
		if err := ch.Start(); err != nil {
			return err
		}
		c.own(ch)
		c.nats = append(c.nats, ch)
		c.natsURLs = append(c.natsURLs, fmt.Sprintf("nats://127.0.0.1:%d", client[i]))
	}
	// The cluster is ready when JetStream answers: a meta leader was elected.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := c.jetStream(ctx, func(js jetstream.JetStream) error {
			_, err := js.AccountInfo(ctx)
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("NATS cluster not ready after 60s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.log.Info("NATS cluster up", "urls", c.natsURL())
	return nil
}

func (c *cluster) natsURL() string { return strings.Join(c.natsURLs, ",") }

// jetStream runs f with a JetStream context on the cluster. A node that has just come back may
// answer a JetStream API request with no responders until its JetStream is ready: f is then run
// again, on a new connection, for up to 30 s, so f must be safe to repeat.
func (c *cluster) jetStream(ctx context.Context, f func(jetstream.JetStream) error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.jetStreamOnce(f)
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// jetStreamOnce runs f with a JetStream context on a new connection to the cluster.
func (c *cluster) jetStreamOnce(f func(jetstream.JetStream) error) error {
	nc, err := nats.Connect(c.natsURL(), nats.Timeout(2*time.Second), nats.Name("quarterdeck cluster proof"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	return f(js)
}

// streamsUp reports nil when every domain stream, and every durable consumer on it, has 3
// replicas, a leader, and no replica offline or silent for more than 5 s: a NATS node that came
// back has rejoined. strict (with no load running) also wants every replica current, caught up
// with its leader.
func (c *cluster) streamsUp(ctx context.Context, strict bool) error {
	healthy := func(what string, ci *jetstream.ClusterInfo) error {
		if ci == nil || ci.Leader == "" {
			return fmt.Errorf("%s has no leader", what)
		}
		if len(ci.Replicas) != streamReplicas-1 {
			return fmt.Errorf("%s: %d followers, want %d", what, len(ci.Replicas), streamReplicas-1)
		}
		for _, r := range ci.Replicas {
			if r.Offline || r.Active > 5*time.Second || (strict && !r.Current) {
				return fmt.Errorf("%s: replica %s offline, silent or behind (current %v, active %s, lag %d)", what, r.Name, r.Current, r.Active, r.Lag)
			}
		}
		return nil
	}
	return c.jetStream(ctx, func(js jetstream.JetStream) error {
		for _, d := range append(append([]string{}, domains...), "iam") {
			s, err := js.Stream(ctx, events.StreamName("quarterdeck", d))
			if err != nil {
				return fmt.Errorf("stream %s: %w", d, err)
			}
			info := s.CachedInfo()
			if info.Config.Replicas != streamReplicas {
				return fmt.Errorf("stream %s has %d replicas, want %d", d, info.Config.Replicas, streamReplicas)
			}
			if err := healthy("stream "+d, info.Cluster); err != nil {
				return err
			}
			// The durable consumers on it follow the stream's replicas (they set none); the
			// gateways' ordered consumers are ephemeral, one replica by design.
			cs := s.ListConsumers(ctx)
			for ci := range cs.Info() {
				if ci.Config.Durable == "" {
					continue
				}
				if err := healthy("consumer "+ci.Name+" on "+d, ci.Cluster); err != nil {
					return err
				}
			}
			if err := cs.Err(); err != nil {
				return err
			}
		}
		return nil
	})
}

// commonEnv is every platform process's environment: quiet logs, no per-key or per-address rate
// limits (the proof's clients are one address), stream replicas 3, and streams that take atomic
// batch publishes (the proof's servers are of a version that does), so that the relays' batches
// go through the node kills and restarts too.
func (c *cluster) commonEnv() []string {
	return []string{
		"QUARTERDECK_LOG_LEVEL=warn",
		"QUARTERDECK_SHUTDOWN_TIMEOUT=10s",
		"QUARTERDECK_GATEWAY_RATE_LIMIT_PER_KEY=0",
		"QUARTERDECK_GATEWAY_RATE_LIMIT_PER_IP=0",
		"QUARTERDECK_NATS_URL=" + c.natsURL(),
		"QUARTERDECK_EVENT_STREAM_REPLICAS=" + strconv.Itoa(streamReplicas),
		"QUARTERDECK_EVENT_ATOMIC_BATCHES=true",
	}
}

// startServices starts two replicas of each domain service, each service behind a balancer.
func (c *cluster) startServices(ctx context.Context) error {
	c.replicas, c.balancers = map[string][]*replica{}, map[string]*tcpBalancer{}
	pub := identity.EncodePublicKey(identitytest.Signer().PublicKey())
	// The balancers first: vendors calls budget through budget's.
	for _, d := range domains {
		var addrs []string
		for range 2 {
			a, err := loopback()
			if err != nil {
				return err
			}
			addrs = append(addrs, a)
		}
		b, err := newTCPBalancer(addrs)
		if err != nil {
			return err
		}
		c.teardown = append(c.teardown, b.close)
		c.balancers[d] = b
	}
	for _, d := range domains {
		for i, addr := range c.balancers[d].backends {
			env := append(c.commonEnv(),
				"QUARTERDECK_GRPC_ADDR="+addr,
				"QUARTERDECK_DATABASE_URL="+c.dsn[d],
				"QUARTERDECK_IDENTITY_PUBLIC_KEYS="+pub,
			)
			if d == "vendors" || d == "talent" {
				env = append(env, "QUARTERDECK_PEER_BUDGET_ADDR="+c.balancers["budget"].addr())
			}
			name := fmt.Sprintf("quarterdeck-%s-%d", d, i+1)
			r := &replica{addr: addr, Child: &proc.Child{Name: name, Bin: filepath.Join(c.cfg.BinDir, "quarterdeck-"+d),
				Env: env, Log: filepath.Join(c.dir, name+".log")}}
			if err := r.Start(); err != nil {
				return err
			}
			c.own(r.Child)
			c.replicas[d] = append(c.replicas[d], r)
		}
	}
	for _, d := range domains {
		for _, r := range c.replicas[d] {
			if err := waitServing(ctx, r, 90*time.Second); err != nil {
				return err
			}
		}
	}
	c.log.Info("services serving", "replicas", 2*len(domains))
	return nil
}

// waitServing waits until a service replica answers SERVING on the gRPC health protocol.
func waitServing(ctx context.Context, r *replica, timeout time.Duration) error {
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	h := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		res, err := h.Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if !r.Running() {
			return fmt.Errorf("%s exited (see %s)", r.Name, r.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not serving after %s (see %s)", r.Name, timeout, r.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startGateways starts two gateways and the front end before them.
func (c *cluster) startGateways(ctx context.Context) error {
	c.adminKey = "qd_proof_" + randomHex(20)
	key := identity.EncodePrivateKey(identitytest.PrivateKey())
	var addrs []string
	for i := range 2 {
		addr, err := loopback()
		if err != nil {
			return err
		}
		name := fmt.Sprintf("quarterdeck-gateway-%d", i+1)
		r := &replica{addr: addr, Child: &proc.Child{Name: name, Bin: filepath.Join(c.cfg.BinDir, "quarterdeck-gateway"),
			Env: append(c.commonEnv(),
				"QUARTERDECK_HTTP_ADDR="+addr,
				"QUARTERDECK_BUDGET_ADDR="+c.balancers["budget"].addr(),
				"QUARTERDECK_VENDORS_ADDR="+c.balancers["vendors"].addr(),
				"QUARTERDECK_RISK_ADDR="+c.balancers["risk"].addr(),
				"QUARTERDECK_BRIEFING_ADDR="+c.balancers["briefing"].addr(),
				"QUARTERDECK_TALENT_ADDR="+c.balancers["talent"].addr(),
				"QUARTERDECK_GATEWAY_DATABASE_URL="+c.dsn["gateway"],
				"QUARTERDECK_BOOTSTRAP_API_KEY="+c.adminKey,
				"QUARTERDECK_IDENTITY_SIGNING_KEY="+key,
			),
			Log: filepath.Join(c.dir, name+".log")}}
		// One at a time: the first creates the bootstrap key.
		if err := r.Start(); err != nil {
			return err
		}
		c.own(r.Child)
		c.gateways = append(c.gateways, r)
		addrs = append(addrs, addr)
		if err := waitReady(ctx, r, 90*time.Second); err != nil {
			return err
		}
	}
	f, err := newFrontEnd(addrs)
	if err != nil {
		return err
	}
	c.teardown = append(c.teardown, f.close)
	c.front = f
	c.log.Info("gateways ready", "front", f.url())
	return nil
}

// waitReady waits until a gateway's /readyz answers 200 (every service SERVING).
func waitReady(ctx context.Context, r *replica, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !r.Running() {
			return fmt.Errorf("%s exited (see %s)", r.Name, r.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (see %s)", r.Name, timeout, r.Log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
