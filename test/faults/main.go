// Command faults proves that the outbox loses no event and publishes none twice while the
// processes around it crash. It owns every process it needs: a NATS server with a file store,
// two or more quarterdeck-budget replicas (each running the outbox relay; one holds the relay
// lease) and a fresh schema on the PostgreSQL server named by QUARTERDECK_TEST_POSTGRES_DSN.
// It also runs a consumer process (itself, re-executed) with the platform's consumer runtime, whose
// handler records one effect row per event. It creates cost centres over gRPC while it kill -9s
// the replica holding the relay lease, the NATS server and the consumer (and pauses the consumer
// past its ack wait), restarts them, then compares every row of the database with the stream and
// every event with the consumer's effects.
//
//	QUARTERDECK_TEST_POSTGRES_DSN=postgres://… go run ./test/faults -budget-bin bin/quarterdeck-budget
//
// It exits 1 when an event is missing, duplicated or out of order, or has no effect or more than
// one. See docs/durability.md.
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

// The program re-executes itself as the embedded NATS server and as the consumer; these
// variables carry the role.
const (
	roleEnv      = "QUARTERDECK_FAULTS_ROLE"
	natsPortEnv  = "QUARTERDECK_FAULTS_NATS_PORT"
	natsStoreEnv = "QUARTERDECK_FAULTS_NATS_STORE"
	dsnEnv       = "QUARTERDECK_TEST_POSTGRES_DSN"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintln(os.Stderr, role+":", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(2)
	}
	sum, err := run(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	stop()
	if sum != nil {
		sum.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

// runRole runs the child-process role the program was re-executed as.
func runRole(role string) error {
	switch role {
	case "natsd":
		return runNATSD()
	case "consumer":
		return runConsumer()
	}
	return fmt.Errorf("unknown role %q", role)
}

// config is what one run does.
type config struct {
	DSN        string
	BudgetBin  string // built from the workspace when empty
	NATSBin    string // empty: this program as an embedded server
	Replicas   int
	Creates    int
	Workers    int
	RelayKills int
	NATSKills  int
	Updates    int // update rounds over UpdateAggregates aggregates, after the creates
	UpdateAggs int
	Downtime   time.Duration // how long a killed replica stays down
	// The consumer process: kills (SIGKILL), pauses (SIGSTOP for PauseFactor × AckWait, then
	// SIGCONT), its ack wait, and how long it may take to catch up at the end.
	ConsumerKills   int
	ConsumerPauses  int
	ConsumerAckWait time.Duration
	ConsumerWork    time.Duration // how long the handler works inside its transaction
	CatchUpTimeout  time.Duration
	NATSDowntime    time.Duration // how long the killed NATS server stays down
	DrainTimeout    time.Duration
	KeepDir         bool
	// AtomicBatches has the replicas publish backlogs in atomic batches
	// (QUARTERDECK_EVENT_ATOMIC_BATCHES); the proof's NATS server takes them.
	AtomicBatches bool
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.DSN, "dsn", os.Getenv(dsnEnv), "PostgreSQL URL; a fresh schema is created in it and dropped after (default $"+dsnEnv+")")
	fs.StringVar(&c.BudgetBin, "budget-bin", "", "quarterdeck-budget binary (default: go build it)")
	fs.StringVar(&c.NATSBin, "nats-server", "", "nats-server binary (default: this program runs an embedded server in a child process)")
	fs.IntVar(&c.Replicas, "replicas", 2, "quarterdeck-budget replicas")
	fs.IntVar(&c.Creates, "creates", 10000, "CreateCostCenter calls")
	fs.IntVar(&c.Workers, "workers", 16, "concurrent callers")
	fs.IntVar(&c.RelayKills, "relay-kills", 4, "kill -9 of the replica holding the relay lease")
	fs.IntVar(&c.NATSKills, "nats-kills", 4, "kill -9 of the NATS server")
	fs.IntVar(&c.Updates, "updates", 3, "update rounds after the creates (0: none)")
	fs.IntVar(&c.UpdateAggs, "update-aggregates", 200, "cost centres each update round changes")
	fs.DurationVar(&c.Downtime, "downtime", 2*time.Second, "how long a killed replica stays down")
	fs.DurationVar(&c.NATSDowntime, "nats-downtime", 7*time.Second, "how long the killed NATS server stays down (longer than the relay's 5s publish timeout, so publishes fail and are retried)")
	fs.IntVar(&c.ConsumerKills, "consumer-kills", 4, "kill -9 of the consumer process")
	fs.IntVar(&c.ConsumerPauses, "consumer-pauses", 1, "SIGSTOP of the consumer process for 3 × its ack wait, then SIGCONT")
	fs.DurationVar(&c.ConsumerAckWait, "consumer-ack-wait", 2*time.Second, "the consumer's ack wait (QUARTERDECK_CONSUMER_ACK_WAIT): events a killed or paused consumer held come back after it")
	fs.DurationVar(&c.ConsumerWork, "consumer-work", 5*time.Millisecond, "how long the consumer's handler works (pg_sleep) inside its transaction, so that it falls behind during bursts and kills find work in flight")
	fs.DurationVar(&c.CatchUpTimeout, "catch-up-timeout", 3*time.Minute, "how long the consumer may take to apply every event at the end")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 3*time.Minute, "how long to wait for the outbox to empty at the end")
	fs.BoolVar(&c.KeepDir, "keep", false, "keep the work directory (logs, NATS store) after the run")
	fs.BoolVar(&c.AtomicBatches, "atomic-batches", true, "the replicas' streams take atomic batch publishes, which their relays use for backlogs (false: every event published alone)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.DSN == "" {
		return c, errors.New("no PostgreSQL: set " + dsnEnv + " or -dsn")
	}
	if c.Replicas < 2 {
		return c, errors.New("-replicas must be at least 2, so a standby can take the relay over")
	}
	if c.ConsumerAckWait < 100*time.Millisecond {
		return c, errors.New("-consumer-ack-wait must be at least 100ms")
	}
	if c.Creates < 1 || c.Workers < 1 {
		return c, errors.New("-creates and -workers must be positive")
	}
	return c, nil
}
