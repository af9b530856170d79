// Command clusterproof proves that the distributed platform loses nothing, and duplicates nothing,
// while the machines under it fail. It starts, as processes on this machine:
//
//   - a 3-node NATS JetStream cluster, the domain streams at 3 replicas
//     (QUARTERDECK_EVENT_STREAM_REPLICAS=3);
//   - a private PostgreSQL server (initdb into a temporary folder, a port of its own), so that it
//     may stop it — as the postgres user when it runs as root, as PostgreSQL refuses root;
//   - 2 replicas of every domain service and of the briefing read model, each service behind a TCP
//     round-robin balancer as a Kubernetes Service would put it, and 2 gateways behind a
//     round-robin HTTP front end.
//
// Under a steady mixed load across every domain service — REST clients that retry 503 with the
// same request ID, which the platform applies once — it kills -9 one NATS node and brings it
// back, kills -9 one replica of every service, restarts the gateways one at a time with SIGTERM,
// and stops PostgreSQL for 10 s. Then it checks every acknowledged write against the databases,
// the streams and the consumers' effects, and prints the counts and the time the platform took to
// recover after PostgreSQL's return. It exits 1 when a check fails.
//
//	make build
//	go run ./test/clusterproof -bin-dir bin -nats-server .tools/bin/nats-server
//
// See docs/durability.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is what one run does.
type config struct {
	BinDir      string
	NATSServer  string
	PGBin       string
	Workers     int
	Steady      time.Duration // load before, between and after the faults
	NATSDown    time.Duration // how long the killed NATS node stays down
	ReplicaDown time.Duration // how long the killed service replicas stay down
	PGDown      time.Duration
	RecoverIn   time.Duration // the longest recovery after PostgreSQL's return that passes
	HangAfter   time.Duration // an attempt without an answer after this long during the outage is a hang
	Settle      time.Duration // how long the outbox and the consumers may take to catch up at the end
	Keep        bool
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	short := false
	fs := flag.NewFlagSet("clusterproof", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.BinDir, "bin-dir", "bin", "folder of quarterdeck-budget, -vendors, -risk, -talent, -briefing and -gateway (`make build`)")
	fs.StringVar(&c.NATSServer, "nats-server", "", "nats-server binary, 2.10 or later (`make cluster-proof` builds the pinned one)")
	fs.StringVar(&c.PGBin, "pg-bin", "/usr/lib/postgresql/15/bin", "folder of PostgreSQL's initdb and postgres")
	fs.IntVar(&c.Workers, "workers", 8, "concurrent clients")
	fs.DurationVar(&c.Steady, "steady", 15*time.Second, "load before the first fault, between faults and after the last")
	fs.DurationVar(&c.NATSDown, "nats-down", 5*time.Second, "how long the killed NATS node stays down")
	fs.DurationVar(&c.ReplicaDown, "replica-down", 3*time.Second, "how long the killed service replicas stay down")
	fs.DurationVar(&c.PGDown, "pg-down", 10*time.Second, "how long PostgreSQL stays stopped")
	fs.DurationVar(&c.RecoverIn, "recover-within", 10*time.Second, "every service must serve writes again within this long of PostgreSQL's return")
	fs.DurationVar(&c.HangAfter, "hang-after", 5*time.Second, "during the PostgreSQL outage, an attempt unanswered after this long counts as a hang")
	fs.DurationVar(&c.Settle, "settle", 90*time.Second, "how long the outboxes and consumers may take to catch up after the load")
	fs.BoolVar(&c.Keep, "keep", false, "keep the work folder (logs, data) after the run")
	fs.BoolVar(&short, "short", false, "the shortened run CI does: 3 s of steady load between faults, 4 clients")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if short {
		c.Steady, c.Workers = 3*time.Second, 4
	}
	if c.NATSServer == "" {
		return c, errors.New("-nats-server is required: a nats-server binary, 2.10 or later")
	}
	if c.Workers < 1 {
		return c, errors.New("-workers must be positive")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "clusterproof:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	sum, err := run(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	stop()
	if sum != nil {
		sum.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterproof:", err)
		os.Exit(1)
	}
}
