// Command schedproof proves that the scheduler (services/platform/runtime/scheduler) fires every
// due item exactly once, never before its due time, while the process running its worker is
// killed with SIGKILL.
//
// For each engine it prepares a database of its own — a fresh schema of the PostgreSQL database
// named by QUARTERDECK_TEST_POSTGRES_DSN (dropped at the end), or a SQLite file in a temporary
// directory — and starts the worker in child processes (this program, re-executed): on PostgreSQL
// two replicas, one active (it holds the scheduler's lease) and one standing by; on SQLite, whose
// file belongs to one process, a single worker. It schedules 10,000 items due over one minute with
// scheduler.Schedule, in transactions, and the handler of every item inserts one row into an
// effects table with no unique key, in the transaction that marks the item fired, so that an item
// fired twice would show as two rows. Soon after a third and again two thirds of the items have
// fired (at a random moment within a poll interval) it kills the active worker with SIGKILL — on
// PostgreSQL once it sees it in a firing transaction that has written effects: the standby takes
// the lease over, and the killed process is restarted after a downtime (it stands by on
// PostgreSQL, it is the worker again on SQLite). When every item has fired it compares the items
// with their effects.
//
//	QUARTERDECK_TEST_POSTGRES_DSN=postgres://… go run ./test/schedproof
//	go run ./test/schedproof -engine sqlite
//
// It exits 1 when an item has no effect or more than one, fired before its due time or out of
// due order, or did not fire. It reports the lag (fire time − due time) and how long each
// takeover took. See docs/durability.md.
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
	"strings"
	"syscall"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
)

// The program re-executes itself as the worker; these variables carry the role and its settings.
const (
	roleEnv     = "QUARTERDECK_SCHEDPROOF_ROLE"
	dbDSNEnv    = "QUARTERDECK_SCHEDPROOF_DSN"
	dbSchemaEnv = "QUARTERDECK_SCHEDPROOF_SCHEMA"
	nameEnv     = "QUARTERDECK_SCHEDPROOF_NAME"
	pollEnv     = "QUARTERDECK_SCHEDPROOF_POLL_INTERVAL"
	batchEnv    = "QUARTERDECK_SCHEDPROOF_BATCH_SIZE"
	dsnEnv      = "QUARTERDECK_TEST_POSTGRES_DSN"
)

// The engines a run can use.
const (
	enginePostgres = "postgres"
	engineSQLite   = "sqlite"
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
	engines, cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		stop()
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "schedproof:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	failed := false
	for i, engine := range engines {
		c := cfg
		c.Engine = engine
		if i > 0 {
			fmt.Println()
		}
		sum, err := run(ctx, c, log)
		if sum != nil {
			sum.print(os.Stdout)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "schedproof (%s): %v\n", engine, err)
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}
	stop()
	if failed {
		os.Exit(1)
	}
}

// runRole runs the child-process role the program was re-executed as.
func runRole(role string) error {
	if role == "worker" {
		return runWorker()
	}
	return fmt.Errorf("unknown role %q", role)
}

// config is what one run on one engine does.
type config struct {
	Engine   string
	DSN      string // PostgreSQL URL; a fresh schema is created in it
	Replicas int    // worker processes on PostgreSQL (one on SQLite)
	Items    int
	Window   time.Duration // the due times spread evenly over it
	Lead     time.Duration // from the start of the run to the first due time
	// ScheduleTx is the number of items scheduled per transaction.
	ScheduleTx int
	Kills      int           // kill -9 of the active worker, evenly spaced over the items fired
	Downtime   time.Duration // how long a killed worker stays down before it is restarted
	// PollInterval and BatchSize are the workers' scheduler.Settings.
	PollInterval time.Duration
	BatchSize    int
	// CatchUp is how long after the last due time every item may take to fire.
	CatchUp time.Duration
	Keep    bool
}

func parseFlags(args []string, out io.Writer) ([]string, config, error) {
	var (
		c       config
		engines string
	)
	fs := flag.NewFlagSet("schedproof", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&engines, "engine", enginePostgres+","+engineSQLite, "engines to run on, one after the other: postgres, sqlite or both")
	fs.StringVar(&c.DSN, "dsn", os.Getenv(dsnEnv), "PostgreSQL URL; a fresh schema is created in it and dropped after (default $"+dsnEnv+")")
	fs.IntVar(&c.Replicas, "replicas", 2, "worker processes on PostgreSQL: one active, the others standing by (SQLite runs one)")
	fs.IntVar(&c.Items, "items", 10000, "items scheduled")
	fs.DurationVar(&c.Window, "window", time.Minute, "the items' due times are spread evenly over this window")
	fs.DurationVar(&c.Lead, "lead", 10*time.Second, "from the start of the run to the first due time (scheduling must finish within it)")
	fs.IntVar(&c.ScheduleTx, "schedule-tx", 100, "items scheduled per transaction")
	fs.IntVar(&c.Kills, "kills", 2, "kill -9 of the active worker, soon after evenly spaced counts of fired items")
	fs.DurationVar(&c.Downtime, "downtime", 2*time.Second, "how long a killed worker stays down before it is restarted")
	fs.DurationVar(&c.PollInterval, "poll-interval", scheduler.DefaultPollInterval, "the workers' SCHEDULER_POLL_INTERVAL (how often a standby tries to take over)")
	fs.IntVar(&c.BatchSize, "batch-size", scheduler.DefaultBatchSize, "the workers' SCHEDULER_BATCH_SIZE (items fired per transaction)")
	fs.DurationVar(&c.CatchUp, "catch-up", 2*time.Minute, "how long after the last due time every item may take to fire")
	fs.BoolVar(&c.Keep, "keep", false, "keep the work directory (worker logs, SQLite file) and the PostgreSQL schema after the run")
	if err := fs.Parse(args); err != nil {
		return nil, c, err
	}
	var list []string
	for e := range strings.SplitSeq(engines, ",") {
		switch e = strings.TrimSpace(e); e {
		case enginePostgres, engineSQLite:
			list = append(list, e)
		case "":
		default:
			return nil, c, fmt.Errorf("-engine: unknown engine %q (want postgres or sqlite)", e)
		}
	}
	if len(list) == 0 {
		return nil, c, errors.New("-engine names no engine")
	}
	for _, e := range list {
		c.Engine = e
		if err := c.validate(); err != nil {
			return nil, c, err
		}
	}
	return list, c, nil
}

func (c config) validate() error {
	switch {
	case c.Engine == enginePostgres && c.DSN == "":
		return errors.New("no PostgreSQL: set " + dsnEnv + " or -dsn, or run -engine sqlite")
	case c.Engine == enginePostgres && c.Replicas < 2:
		return errors.New("-replicas must be at least 2 on PostgreSQL, so a standby can take over")
	case c.Items < 1 || c.ScheduleTx < 1:
		return errors.New("-items and -schedule-tx must be positive")
	case c.Window < 0 || c.Lead <= 0 || c.Downtime < 0 || c.CatchUp <= 0:
		return errors.New("-window and -downtime must not be negative, -lead and -catch-up must be positive")
	case c.Kills < 0 || c.Kills >= c.Items:
		return errors.New("-kills must be between 0 and the number of items")
	case c.PollInterval <= 0 || c.BatchSize < 1:
		return errors.New("-poll-interval and -batch-size must be positive")
	}
	return nil
}
