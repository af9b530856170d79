package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// fixtures are the resources the read and custom-method scenarios work on, made once per set-up
// before any measurement.
type fixtures struct {
	prefix      string   // unique per run: IDs of created cost centres start with it
	names       []string // cost centres to get
	filters     []string // list filters, each selecting more than one page of 50
	commitments []string // open commitments, one per budget, each with plenty left to release
	lines       []string // the budget lines of those commitments, for contracts
	vendors     []string // active vendors, for contracts
	currency    string
	portal      portalFixtures

	seq, get, list, rel, mix, act, portalMix atomic.Uint64
}

// Fixture sizes: 10 parents × 100 children to get and list; 16 budgets so that releases spread
// over 16 chain locks (one budget serialises its own spend by design, ADR 0009).
const (
	fixtureParents  = 10
	fixtureChildren = 100
	fixtureBudgets  = 16
)

// makeFixtures creates the fixtures through the gateway's gRPC API with two API keys: an owner
// and an approver (a budget may not be approved by whoever submitted it).
func makeFixtures(ctx context.Context, owner, approver *grpcAPI, log *slog.Logger) (*fixtures, error) {
	f := &fixtures{prefix: randomHex(3), currency: "EUR"}
	start := time.Now()
	var jobs []func(ctx context.Context) error
	for p := 0; p < fixtureParents; p++ {
		parent := fmt.Sprintf("g%s-%d", f.prefix, p)
		if err := owner.CreateCostCenter(ctx, parent, ""); err != nil {
			return nil, fmt.Errorf("fixture cost centre %s: %w", parent, err)
		}
		f.filters = append(f.filters, fmt.Sprintf("parent = %q AND active = true", "costCenters/"+parent))
		for c := 0; c < fixtureChildren; c++ {
			id := fmt.Sprintf("g%s-%d-%d", f.prefix, p, c)
			f.names = append(f.names, "costCenters/"+id)
			jobs = append(jobs, func(ctx context.Context) error { return owner.CreateCostCenter(ctx, id, "costCenters/"+parent) })
		}
	}
	if err := runJobs(ctx, 16, jobs); err != nil {
		return nil, fmt.Errorf("fixture cost centres: %w", err)
	}

	commitments := make([]string, fixtureBudgets)
	jobs = jobs[:0]
	for i := 0; i < fixtureBudgets; i++ {
		jobs = append(jobs, func(ctx context.Context) error {
			name, err := f.budgetWithCommitment(ctx, owner, approver, fmt.Sprintf("r%s-%d", f.prefix, i))
			commitments[i] = name
			return err
		})
	}
	if err := runJobs(ctx, 4, jobs); err != nil {
		return nil, fmt.Errorf("fixture budgets: %w", err)
	}
	f.commitments = commitments
	for i := 0; i < fixtureBudgets; i++ {
		f.portal.budgets = append(f.portal.budgets, fmt.Sprintf("budgets/r%s-%d", f.prefix, i))
	}
	if err := f.makeVendors(ctx, owner); err != nil {
		return nil, err
	}
	if err := f.makePortalFixtures(ctx, owner); err != nil {
		return nil, err
	}
	log.Info("fixtures made", "cost_centers", len(f.names)+fixtureParents, "budgets", fixtureBudgets, "vendors", fixtureVendors, "risks", fixtureRisks, "people", fixturePeople,
		"took", time.Since(start).Round(time.Millisecond))
	return f, nil
}

// budgetWithCommitment makes an approved budget of this fiscal year with one line of
// 10,000,000.00 and an open commitment of 1,000,000.00 on it, and returns the commitment's name.
func (f *fixtures) budgetWithCommitment(ctx context.Context, owner, approver *grpcAPI, id string) (string, error) {
	if err := owner.CreateCostCenter(ctx, id, ""); err != nil {
		return "", err
	}
	now := time.Now().UTC()
	b, err := owner.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: id, Budget: &budgetv1.Budget{
		CostCenter: "costCenters/" + id, FiscalYear: int32(now.Year()), CurrencyCode: f.currency, DisplayName: "Load " + id,
	}})
	if err != nil {
		return "", fmt.Errorf("create budget: %w", err)
	}
	line, err := owner.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "run",
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Run", Category: budgetv1.BudgetLine_CLOUD, ExpenseType: budgetv1.BudgetLine_OPEX,
			PlannedAmount: &money.Money{CurrencyCode: f.currency, Units: 10_000_000}}})
	if err != nil {
		return "", fmt.Errorf("create line: %w", err)
	}
	if _, err := owner.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
		return "", fmt.Errorf("submit: %w", err)
	}
	if _, err := approver.client.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
		return "", fmt.Errorf("approve: %w", err)
	}
	c, err := owner.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: line.GetName(), Commitment: &budgetv1.Commitment{
		Amount:       &money.Money{CurrencyCode: f.currency, Units: 1_000_000},
		ExpectedDate: &date.Date{Year: int32(now.Year()), Month: int32(now.Month()), Day: int32(now.Day())},
	}})
	if err != nil {
		return "", fmt.Errorf("record commitment: %w", err)
	}
	return c.GetName(), nil
}

// runJobs runs jobs with n workers and returns the first error.
func runJobs(ctx context.Context, n int, jobs []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := atomic.Int64{}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				if err := jobs[i](ctx); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// scenario is one kind of load.
type scenario struct {
	name string
	what string // for the report
	op   func(f *fixtures, a api) loadgen.Op
}

func (f *fixtures) nextID() string { return fmt.Sprintf("c%s-%d", f.prefix, f.seq.Add(1)) }

func pick(list []string, n *atomic.Uint64) string { return list[int(n.Add(1)-1)%len(list)] }

var errShortPage = errors.New("list returned fewer items than a full page")

var (
	scenarioCreate = scenario{"create", "create a cost centre (row + outbox event + audit record, one transaction)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error { return a.CreateCostCenter(ctx, f.nextID(), "") }
		}}
	scenarioGet = scenario{"get", "get a cost centre by name (1,000 names, round robin)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error { return a.GetCostCenter(ctx, pick(f.names, &f.get)) }
		}}
	scenarioList = scenario{"list", "list a page of 50 cost centres with a filter (`parent = … AND active = true`)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error {
				n, err := a.ListCostCenters(ctx, pick(f.filters, &f.list), 50)
				if err == nil && n != 50 {
					return fmt.Errorf("%w: %d", errShortPage, n)
				}
				return err
			}
		}}
	scenarioRelease = scenario{"release", "release 0.01 of a commitment (`:release`, a custom method; 16 budgets)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error {
				return a.ReleaseCommitment(ctx, pick(f.commitments, &f.rel), f.currency)
			}
		}}
	// scenarioMixed is a portal's day: 80 % reads (50 % get, 30 % list), 20 % writes (15 % create,
	// 5 % release), interleaved in a fixed 20-step cycle.
	scenarioMixed = scenario{"mixed", "80 % reads: 50 % get, 30 % list, 15 % create, 5 % release",
		func(f *fixtures, a api) loadgen.Op {
			ops := map[string]loadgen.Op{
				"get": scenarioGet.op(f, a), "list": scenarioList.op(f, a),
				"create": scenarioCreate.op(f, a), "release": scenarioRelease.op(f, a),
			}
			cycle := []string{"get", "list", "get", "create", "get", "list", "get", "get", "list", "create",
				"get", "list", "get", "release", "get", "list", "get", "create", "list", "get"}
			return func(ctx context.Context) error {
				return ops[cycle[int(f.mix.Add(1)-1)%len(cycle)]](ctx)
			}
		}}
	scenarios = []scenario{scenarioCreate, scenarioGet, scenarioList, scenarioRelease, scenarioMixed, scenarioVendorCreate, scenarioActivate, scenarioPortal}
)

// scenarioByName finds a scenario.
func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// clients are the three paths to the platform with the scopes the scenarios need.
type clients struct {
	paths  map[string]api
	order  []string
	owner  *grpcAPI // fixtures, event path
	closer []func()
}

func (c *clients) close() {
	for _, f := range c.closer {
		f()
	}
}

// connect makes the API keys and the clients of every path the set-up offers.
func connect(ctx context.Context, p *platform) (*clients, error) {
	scopes := []string{"budget.read", "budget.write", "budget.spend", "vendors.read", "vendors.write", "vendors.finance",
		"risk.read", "risk.write", "incidents.read", "incidents.write", "talent.read", "talent.write"}
	approverScopes := []string{"budget.read", "budget.approve", "budget.spend", "vendors.read", "vendors.approve"}
	ownerKey, err := createAPIKey(ctx, p.rest, p.adminKey, "load owner", "principals/load-owner", scopes...)
	if err != nil {
		return nil, err
	}
	approverKey, err := createAPIKey(ctx, p.rest, p.adminKey, "load approver", "principals/load-approver", approverScopes...)
	if err != nil {
		return nil, err
	}
	c := &clients{paths: map[string]api{}}
	owner, err := dialGRPC(everyService(p.gateway), grpc.WithPerRPCCredentials(apiKeyCreds(ownerKey)))
	if err != nil {
		return nil, err
	}
	c.closer = append(c.closer, owner.close)
	c.owner = owner
	rest := newREST(p.rest, ownerKey)
	rest.approver = newREST(p.rest, approverKey)
	c.paths[pathREST] = rest
	c.paths[pathGateway] = owner
	c.order = []string{pathREST, pathGateway}
	approver, err := dialGRPC(everyService(p.gateway), grpc.WithPerRPCCredentials(apiKeyCreds(approverKey)))
	if err != nil {
		c.close()
		return nil, err
	}
	c.closer = append(c.closer, approver.close)
	c.paths["approver"] = approver
	owner.approver = approver
	if p.direct != "" {
		direct := targets{p.direct, p.directVendors, p.directRisk, p.directTalent}
		d, err := dialGRPC(direct, identitytest.DialOptionAs("apiKeys/load-direct", scopes...))
		if err != nil {
			c.close()
			return nil, err
		}
		c.closer = append(c.closer, d.close)
		da, err := dialGRPC(direct, identitytest.DialOptionAs("apiKeys/load-direct-approver", approverScopes...))
		if err != nil {
			c.close()
			return nil, err
		}
		c.closer = append(c.closer, da.close)
		d.approver = da
		c.paths[pathDirect] = d
		c.order = append(c.order, pathDirect)
	}
	return c, nil
}
