package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
)

// budgetPackage is built when no -budget-bin is given (the program runs inside the workspace).
const budgetPackage = "github.com/quarterdeck/quarterdeck/services/budget/cmd/quarterdeck-budget"

// env is everything one run owns.
type env struct {
	cfg      config
	log      *slog.Logger
	dir      string
	schema   string
	pg       *pgx.Conn
	nats     *natsServer
	replicas []*replica
	sum      *summary

	consumer       *consumerProc
	consumerSchema string // the consumer's own schema in the same database
}

func run(ctx context.Context, cfg config, log *slog.Logger) (sum *summary, err error) {
	start := time.Now()
	e := &env{cfg: cfg, log: log, sum: &summary{}}
	sum = e.sum
	if e.dir, err = os.MkdirTemp("", "quarterdeck-faults-"); err != nil {
		return nil, err
	}
	sum.Dir = e.dir
	defer func() {
		e.teardown()
		sum.Elapsed = time.Since(start).Round(time.Millisecond)
		if err == nil && len(sum.Failures) > 0 {
			err = fmt.Errorf("%d check(s) failed", len(sum.Failures))
		}
		if err == nil && !cfg.KeepDir {
			os.RemoveAll(e.dir)
			sum.Dir = ""
		}
	}()

	if err := e.setup(ctx); err != nil {
		return sum, err
	}
	if err := e.createPhase(ctx); err != nil {
		return sum, err
	}
	if cfg.Updates > 0 {
		if err := e.updatePhase(ctx); err != nil {
			return sum, err
		}
	}
	if err := e.drain(ctx); err != nil {
		return sum, err
	}
	if err := e.catchUp(ctx); err != nil {
		return sum, err
	}
	return sum, e.verify(ctx)
}

func (e *env) setup(ctx context.Context) error {
	bin := e.cfg.BudgetBin
	if bin == "" {
		bin = e.dir + "/quarterdeck-budget"
		e.log.Info("building quarterdeck-budget", "package", budgetPackage)
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, budgetPackage).CombinedOutput()
		if err != nil {
			return fmt.Errorf("build quarterdeck-budget: %w\n%s", err, out)
		}
	}

	var err error
	if e.pg, err = pgx.Connect(ctx, e.cfg.DSN); err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	e.schema = "faults_" + hex.EncodeToString(b)
	if _, err := e.pg.Exec(ctx, `CREATE SCHEMA `+e.schema); err != nil {
		e.schema = ""
		return fmt.Errorf("create schema: %w", err)
	}

	if e.nats, err = newNATSServer(e.cfg.NATSBin, e.dir); err != nil {
		return err
	}
	if err := e.startNATS(ctx); err != nil {
		return err
	}
	e.log.Info("NATS server up", "url", e.nats.url)
	for i := range e.cfg.Replicas {
		r, err := newReplica(i, bin, e.dir, e.nats.url, e.cfg.DSN, e.schema, e.cfg.AtomicBatches)
		if err != nil {
			return err
		}
		e.replicas = append(e.replicas, r)
		if err := r.Start(); err != nil {
			return err
		}
		if err := r.waitServing(ctx, time.Minute); err != nil {
			return err
		}
		e.log.Info("replica serving", "replica", r.Name, "grpc", r.grpcAddr, "metrics", r.metricsAddr)
	}
	// The consumer starts once the replicas have created the budget stream; it gets a schema of
	// its own, as a consuming service would.
	e.consumerSchema = e.schema + "_consumer"
	if e.consumer, err = newConsumerProc(e.dir, e.nats.url, e.cfg.DSN, e.consumerSchema, e.cfg.ConsumerAckWait, e.cfg.ConsumerWork); err != nil {
		return err
	}
	if err := e.consumer.Start(); err != nil {
		return err
	}
	e.log.Info("set up", "dir", e.dir, "schema", e.schema, "consumer_schema", e.consumerSchema,
		"nats", e.nats.url, "replicas", len(e.replicas))
	return nil
}

func (e *env) startNATS(ctx context.Context) error {
	if err := e.nats.Start(); err != nil {
		return err
	}
	return waitPort(ctx, e.nats.url[len("nats://"):], 30*time.Second)
}

// teardown stops what the run started and drops its schema; it runs on every exit path.
func (e *env) teardown() {
	if e.consumer != nil {
		_ = e.consumer.Signal(syscall.SIGCONT) // a stopped process would not see SIGTERM
		e.consumer.Stop(15 * time.Second)
	}
	for _, r := range e.replicas {
		r.Stop(10 * time.Second)
		r.conn.Close()
	}
	if e.nats != nil {
		e.nats.Stop(10 * time.Second)
	}
	if e.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, schema := range []string{e.schema, e.consumerSchema} {
			if schema == "" {
				continue
			}
			if _, err := e.pg.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
				e.log.Error("drop schema", "schema", schema, "error", err)
			}
		}
		e.pg.Close(ctx)
	}
}

// action is one fault: kill -9 a process, leave it down, restart it.
type action int

const (
	killRelay action = iota
	killNATS
	killConsumer
	pauseConsumer
)

// plan interleaves the faults: relay, NATS, consumer kill, consumer pause, relay, NATS, … then
// whichever kinds have faults left.
func plan(relay, nats, consumerKills, consumerPauses int) []action {
	var p []action
	left := []int{relay, nats, consumerKills, consumerPauses}
	for left[0]+left[1]+left[2]+left[3] > 0 {
		for a := range left {
			if left[a] > 0 {
				p, left[a] = append(p, action(a)), left[a]-1
			}
		}
	}
	return p
}

// gate ties the load to the faults: the j-th of k faults fires once the load has issued
// (j+1)/(k+1) of its calls, and no call beyond that point is issued before the fault's kill -9,
// so that every fault strikes with calls in flight and the load keeps writing while the killed
// process is down. Calls are numbered 0…total-1 in the order they are issued.
type gate struct {
	thresholds []int
	fired      []chan struct{} // closed at the j-th kill
}

func newGate(faults, total int) *gate {
	g := &gate{}
	for j := range faults {
		g.thresholds = append(g.thresholds, (j+1)*total/(faults+1))
		g.fired = append(g.fired, make(chan struct{}))
	}
	return g
}

// wait blocks call i until every fault due before it has fired.
func (g *gate) wait(ctx context.Context, i int) error {
	for j, t := range g.thresholds {
		if i < t {
			return nil
		}
		select {
		case <-g.fired[j]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// chaos runs the plan against the load whose issued calls issued counts; loadDone closes when
// the load has finished (faults left then fire one after the other).
func (e *env) chaos(ctx context.Context, p []action, g *gate, issued func() int, loadDone <-chan struct{}) error {
	defer func() { // never leave a worker waiting on a fault that will not come
		for j := range g.fired {
			select {
			case <-g.fired[j]:
			default:
				close(g.fired[j])
			}
		}
	}()
	for j, a := range p {
		for issued() < g.thresholds[j] {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-loadDone:
			case <-time.After(5 * time.Millisecond):
				continue
			}
			break
		}
		var err error
		switch a {
		case killRelay:
			err = e.killRelayHolder(ctx, g.fired[j])
		case killNATS:
			err = e.killNATS(ctx, g.fired[j])
		case killConsumer:
			err = e.killConsumer(ctx, g.fired[j])
		case pauseConsumer:
			err = e.pauseConsumer(ctx, g.fired[j])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// killRelayHolder finds the replica whose relay holds the lease (its lease_held gauge), kills it
// with SIGKILL — relay, gRPC server and database sessions at once — and restarts it after the
// downtime. Meanwhile a standby takes the lease over.
func (e *env) killRelayHolder(ctx context.Context, fired chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	var holder *replica
	for holder == nil {
		for _, r := range e.replicas {
			if r.Running() && r.holdsLease(ctx) {
				holder = r
				break
			}
		}
		if holder != nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("no replica reported holding the relay lease for 30s")
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	e.log.Info("kill -9 relay holder", "replica", holder.Name)
	holder.Kill()
	e.sum.RelayKills++
	close(fired)
	sleepCtx(ctx, e.cfg.Downtime)
	if !e.nats.Running() {
		return errors.New("NATS is down while restarting a replica")
	}
	return holder.waitServing(ctx, time.Minute)
}

func (e *env) killNATS(ctx context.Context, fired chan struct{}) error {
	e.log.Info("kill -9 nats-server")
	e.nats.Kill()
	e.sum.NATSKills++
	close(fired)
	sleepCtx(ctx, e.cfg.NATSDowntime)
	return e.startNATS(ctx)
}

// killConsumer kills the consumer process with SIGKILL — mid-transaction or between a commit
// and its ack, with a batch of unacknowledged events — and restarts it after the downtime. The
// events it held come back after the ack wait.
func (e *env) killConsumer(ctx context.Context, fired chan struct{}) error {
	e.awaitConsumerBusy(ctx)
	e.log.Info("kill -9 consumer")
	e.consumer.Kill()
	e.sum.ConsumerKills++
	close(fired)
	sleepCtx(ctx, e.cfg.Downtime)
	return e.consumer.Start()
}

// pauseConsumer stops the consumer process (SIGSTOP) for three times its ack wait, so that
// JetStream gives up on the events it holds and delivers them again, then lets it go on
// (SIGCONT): it finishes and acknowledges the events it held, while their redeliveries arrive.
func (e *env) pauseConsumer(ctx context.Context, fired chan struct{}) error {
	e.awaitConsumerBusy(ctx)
	e.log.Info("SIGSTOP consumer", "for", 3*e.cfg.ConsumerAckWait)
	if err := e.consumer.Signal(syscall.SIGSTOP); err != nil {
		close(fired)
		return err
	}
	e.sum.ConsumerPauses++
	close(fired)
	sleepCtx(ctx, 3*e.cfg.ConsumerAckWait)
	return e.consumer.Signal(syscall.SIGCONT)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// call runs one RPC against the replicas, retrying failures that leave the outcome unknown on
// the next replica. It returns the final status code and how many attempts it took.
func (e *env) call(ctx context.Context, i int, fn func(ctx context.Context, c budgetv1.BudgetServiceClient) error) (codes.Code, int, error) {
	deadline := time.Now().Add(2 * time.Minute)
	wait := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		r := e.replicas[(i+attempt)%len(e.replicas)]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(cctx, budgetv1.NewBudgetServiceClient(r.conn))
		cancel()
		code := status.Code(err)
		switch code {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted, codes.Internal, codes.Unknown:
			if ctx.Err() != nil {
				return code, attempt + 1, ctx.Err()
			}
			if time.Now().After(deadline) {
				return code, attempt + 1, fmt.Errorf("still failing after 2 minutes: %w", err)
			}
			sleepCtx(ctx, wait)
			wait = min(wait*2, 500*time.Millisecond)
			continue
		}
		return code, attempt + 1, err
	}
}

// createPhase issues the creates from several workers while the chaos plan runs.
func (e *env) createPhase(ctx context.Context) error {
	var next, ok, existed, retried atomic.Int64
	e.sum.Creates = e.cfg.Creates
	e.sum.acked = make([]bool, e.cfg.Creates)
	loadDone := make(chan struct{})
	chaosErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := plan(e.cfg.RelayKills, e.cfg.NATSKills, e.cfg.ConsumerKills, e.cfg.ConsumerPauses)
	g := newGate(len(p), e.cfg.Creates)
	go func() {
		chaosErr <- e.chaos(ctx, p, g, func() int { return int(next.Load()) }, loadDone)
	}()
	errs := make(chan error, e.cfg.Workers)
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= e.cfg.Creates || g.wait(ctx, i) != nil {
					return
				}
				code, attempts, err := e.call(ctx, i, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
					_, err := c.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
						CostCenterId: costCenterID(i),
						CostCenter: &budgetv1.CostCenter{DisplayName: fmt.Sprintf("Faults %d", i),
							Code: fmt.Sprintf("F-%06d", i), Owner: "faults@example.com"},
					})
					return err
				})
				if attempts > 1 {
					retried.Add(1)
				}
				switch {
				case code == codes.OK:
					ok.Add(1)
				case code == codes.AlreadyExists && attempts > 1:
					// An earlier attempt committed but its answer was lost with the replica.
					existed.Add(1)
				default:
					errs <- fmt.Errorf("create %s: %w", costCenterID(i), err)
					cancel()
					return
				}
				e.sum.acked[i] = true
			}
		})
	}
	wg.Wait()
	close(loadDone)
	cerr := <-chaosErr
	e.sum.CreatesOK, e.sum.CreatesExisted, e.sum.CreatesRetried = int(ok.Load()), int(existed.Load()), int(retried.Load())
	close(errs)
	for err := range errs {
		return err
	}
	return cerr
}

func costCenterID(i int) string { return fmt.Sprintf("f%06d", i) }

// updatePhase changes the first UpdateAggs cost centres Updates times each, one round after the
// other, with one relay kill and one NATS kill during it: every aggregate then has several
// events whose order the verifier checks. An update whose answer is lost is retried; a retry of
// a round that did commit changes nothing and publishes nothing.
func (e *env) updatePhase(ctx context.Context) error {
	aggs := min(e.cfg.UpdateAggs, e.cfg.Creates)
	total := aggs * e.cfg.Updates
	e.sum.Updates = total
	var done, retried, issued atomic.Int64
	loadDone := make(chan struct{})
	chaosErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := plan(min(1, e.cfg.RelayKills), min(1, e.cfg.NATSKills), min(1, e.cfg.ConsumerKills), 0)
	g := newGate(len(p), total)
	go func() {
		chaosErr <- e.chaos(ctx, p, g, func() int { return int(issued.Load()) }, loadDone)
	}()
	var firstErr error
	var mu sync.Mutex
	for round := 1; round <= e.cfg.Updates && firstErr == nil; round++ {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range e.cfg.Workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= aggs {
						return
					}
					issued.Add(1)
					if g.wait(ctx, (round-1)*aggs+i) != nil {
						return
					}
					code, attempts, err := e.call(ctx, i, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
						_, err := c.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
							CostCenter: &budgetv1.CostCenter{Name: "costCenters/" + costCenterID(i),
								DisplayName: fmt.Sprintf("Faults %d round %d", i, round)},
							UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
						})
						return err
					})
					if attempts > 1 {
						retried.Add(1)
					}
					if code != codes.OK {
						mu.Lock()
						firstErr = errors.Join(firstErr, fmt.Errorf("update %s round %d: %w", costCenterID(i), round, err))
						mu.Unlock()
						cancel()
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
	}
	close(loadDone)
	cerr := <-chaosErr
	e.sum.UpdatesOK, e.sum.UpdatesRetried = int(done.Load()), int(retried.Load())
	return errors.Join(firstErr, cerr)
}

// drain waits until every replica runs and the outbox has nothing left to publish.
func (e *env) drain(ctx context.Context) error {
	for _, r := range e.replicas {
		if err := r.waitServing(ctx, time.Minute); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(e.cfg.DrainTimeout)
	for {
		var n int64
		if err := e.pg.QueryRow(ctx, `SELECT count(*) FROM `+e.schema+`.outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			return fmt.Errorf("outbox backlog: %w", err)
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			e.sum.fail("outbox still holds %d unpublished events after %s", n, e.cfg.DrainTimeout)
			return nil // verify reports which
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}
