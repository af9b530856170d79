package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/encoding/protojson"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// The vendors scenarios: creating a vendor (the vendors service's own create path), and
// activating a contract, the platform's first call between services — the approval places a
// hold on a budget line over gRPC before its own transaction (ADR 0010), and budget turns the
// hold into a commitment when it consumes contract.activated.

// fixtureVendors is how many active vendors the contract scenarios spread over.
const fixtureVendors = 16

// contractValue is the total value of each contract the activation scenario makes: small enough
// that the fixture lines (10,000,000.00 each) never run out at any rate the harness tries.
var contractValue = &money.Money{CurrencyCode: "EUR", Units: 100}

// contractTerm is the term of the contracts the activation scenario makes: today to the end of
// the calendar year, inside the fixture budgets' fiscal year.
func contractTerm() (start, end *date.Date) {
	now := time.Now().UTC()
	return &date.Date{Year: int32(now.Year()), Month: int32(now.Month()), Day: int32(now.Day())},
		&date.Date{Year: int32(now.Year()), Month: 12, Day: 31}
}

// newVendor is the vendor the harness creates: tier 3, which needs no assessment to activate.
func newVendor(id string) *vendorsv1.Vendor {
	return &vendorsv1.Vendor{DisplayName: "Load " + id, LegalName: "Load " + id + " Ltd", Category: vendorsv1.Vendor_SAAS,
		Tier: 3, DataAccess: vendorsv1.DataAccess_INTERNAL, Country: "DE", Owner: "load@example.com"}
}

// newContract is a complete contract, ready to submit; the submitter's approver approves it
// (nobody approves their own contract).
func newContract(id, line string) *vendorsv1.Contract {
	start, end := contractTerm()
	return &vendorsv1.Contract{Title: "Load " + id, TotalValue: contractValue, AnnualValue: contractValue,
		BillingFrequency: vendorsv1.Contract_ANNUALLY, StartDate: start, EndDate: end, BudgetLine: line,
		Owner: "load@example.com"}
}

func (g *grpcAPI) CreateVendor(ctx context.Context, id string) error {
	_, err := g.vendors.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: id, Vendor: newVendor(id)})
	return err
}

func (g *grpcAPI) ActivateContract(ctx context.Context, vendor, id, line string) error {
	c, err := g.vendors.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: vendor, ContractId: id, Contract: newContract(id, line)})
	if err != nil {
		return fmt.Errorf("create contract: %w", err)
	}
	if _, err := g.vendors.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName()}); err != nil {
		return fmt.Errorf("submit contract: %w", err)
	}
	if _, err := g.approver.vendors.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName()}); err != nil {
		return fmt.Errorf("approve contract: %w", err)
	}
	return nil
}

// activeVendor creates a vendor and makes it ACTIVE (onboarding, then the approver's activation).
func (g *grpcAPI) activeVendor(ctx context.Context, id string) (string, error) {
	v, err := g.vendors.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: id, Vendor: newVendor(id)})
	if err != nil {
		return "", fmt.Errorf("create vendor: %w", err)
	}
	if _, err := g.vendors.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: v.GetName()}); err != nil {
		return "", fmt.Errorf("start onboarding: %w", err)
	}
	if _, err := g.approver.vendors.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()}); err != nil {
		return "", fmt.Errorf("activate vendor: %w", err)
	}
	return v.GetName(), nil
}

func (r *restAPI) CreateVendor(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodPost, "/v1/vendors?vendorId="+url.QueryEscape(id), restVendor(id), nil)
}

func restVendor(id string) map[string]any {
	return map[string]any{"displayName": "Load " + id, "legalName": "Load " + id + " Ltd", "category": "SAAS", "tier": 3,
		"dataAccess": "INTERNAL", "country": "DE", "owner": "load@example.com"}
}

func (r *restAPI) ActivateContract(ctx context.Context, vendor, id, line string) error {
	start, end := contractTerm()
	day := func(d *date.Date) map[string]any {
		return map[string]any{"year": d.Year, "month": d.Month, "day": d.Day}
	}
	value := map[string]any{"currencyCode": contractValue.CurrencyCode, "units": fmt.Sprint(contractValue.Units)}
	var c struct {
		Name string `json:"name"`
	}
	if err := r.do(ctx, http.MethodPost, "/v1/"+vendor+"/contracts?contractId="+url.QueryEscape(id), map[string]any{
		"title": "Load " + id, "totalValue": value, "annualValue": value, "billingFrequency": "ANNUALLY",
		"startDate": day(start), "endDate": day(end), "budgetLine": line, "owner": "load@example.com",
	}, &c); err != nil {
		return fmt.Errorf("create contract: %w", err)
	}
	if err := r.do(ctx, http.MethodPost, "/v1/"+c.Name+":submit", map[string]any{}, nil); err != nil {
		return fmt.Errorf("submit contract: %w", err)
	}
	if err := r.approver.do(ctx, http.MethodPost, "/v1/"+c.Name+":approve", map[string]any{}, nil); err != nil {
		return fmt.Errorf("approve contract: %w", err)
	}
	return nil
}

// vendorFixtures makes the active vendors the contract scenarios work on, and takes the budget
// lines of the budget fixtures as the contracts' lines.
func (f *fixtures) makeVendors(ctx context.Context, owner *grpcAPI) error {
	f.vendors = make([]string, fixtureVendors)
	jobs := make([]func(context.Context) error, fixtureVendors)
	for i := range jobs {
		jobs[i] = func(ctx context.Context) error {
			name, err := owner.activeVendor(ctx, fmt.Sprintf("v%s-%d", f.prefix, i))
			f.vendors[i] = name
			return err
		}
	}
	if err := runJobs(ctx, 4, jobs); err != nil {
		return fmt.Errorf("fixture vendors: %w", err)
	}
	for _, c := range f.commitments {
		line, _, _ := strings.Cut(c, "/commitments/")
		f.lines = append(f.lines, line)
	}
	return nil
}

var (
	scenarioVendorCreate = scenario{"vendor-create", "create a vendor (row + outbox event + audit record, one transaction)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error { return a.CreateVendor(ctx, "n"+f.nextID()) }
		}}
	scenarioActivate = scenario{"activate", "create, submit and approve a contract (3 calls; the approval holds funds in budget over gRPC first)",
		func(f *fixtures, a api) loadgen.Op {
			return func(ctx context.Context) error {
				n := f.act.Add(1) - 1
				return a.ActivateContract(ctx, f.vendors[int(n)%len(f.vendors)], f.nextID(), f.lines[int(n)%len(f.lines)])
			}
		}}
)

// activationResult is the activation path's measurement: from ApproveContract's answer to the
// commitment budget records when it consumes contract.activated (its commitment.recorded event,
// which budget publishes after the commitment's transaction commits).
type activationResult struct {
	path      string
	cpu       cpuRun // of every process, over the activations and the wait for their commitments
	Rate      float64
	Activated int // approvals acknowledged
	Committed int // of them, commitments seen
	Latency   loadgen.Summary
}

// measureActivation activates contracts at rate for d and measures, for each, the time from the
// approval's answer to the commitment.recorded event of its commitment reaching a subscriber.
func measureActivation(ctx context.Context, p *platform, f *fixtures, a api, rate float64, d time.Duration, log *slog.Logger) (activationResult, error) {
	out := activationResult{Rate: rate}
	spec, err := events.SpecOf(&budgetv1.CommitmentRecorded{})
	if err != nil {
		return out, err
	}
	nc, err := nats.Connect(p.natsURL, nats.Name("quarterdeck load harness"))
	if err != nil {
		return out, fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return out, err
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamName(p.eventPrefix, spec.Domain), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{spec.Subject(p.eventPrefix)}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return out, fmt.Errorf("consumer on the budget stream: %w", err)
	}
	var (
		mu       sync.Mutex
		approved = map[string]time.Time{} // contract name -> the approval's answer
		seen     = map[string]time.Time{} // contract name -> its commitment's event
		changed  = make(chan struct{}, 1)
		bad      atomic.Int64
		prefix   = "a" + randomHex(3) + "-"
		seq      atomic.Int64
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		var ev budgetv1.CommitmentRecorded
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(m.Data(), &ev); err != nil {
			bad.Add(1)
			return
		}
		ref := ev.GetCommitment().GetSourceReference()
		if !strings.Contains(ref, "/contracts/"+prefix) {
			return
		}
		mu.Lock()
		if _, dup := seen[ref]; !dup {
			seen[ref] = now
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return out, err
	}
	defer cc.Stop()

	res, err := loadgen.Run(ctx, loadgen.Config{Rate: rate, Duration: d}, func(ctx context.Context) error {
		n := int(f.act.Add(1) - 1)
		vendor, id := f.vendors[n%len(f.vendors)], fmt.Sprintf("%s%d", prefix, seq.Add(1))
		if err := a.ActivateContract(ctx, vendor, id, f.lines[n%len(f.lines)]); err != nil {
			return err
		}
		mu.Lock()
		approved[vendor+"/contracts/"+id] = time.Now()
		mu.Unlock()
		return nil
	})
	if err != nil {
		return out, err
	}
	out.Activated = res.OK
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		done := len(seen) >= len(approved)
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for name, at := range approved {
		if s, ok := seen[name]; ok {
			// The event can arrive before the harness notes the approval's answer: budget may
			// consume contract.activated while the answer is still on its way back. Such an
			// activation took no time after the answer.
			lat = append(lat, max(s.Sub(at), 0))
		}
	}
	out.Committed = len(lat)
	out.Latency = loadgen.Summarize(lat)
	if out.Committed < out.Activated {
		log.Warn("not every activated contract's commitment arrived", "activated", out.Activated, "committed", out.Committed)
		return out, fmt.Errorf("%d of %d activated contracts got no commitment within 60 s", out.Activated-out.Committed, out.Activated)
	}
	if n := bad.Load(); n > 0 {
		return out, fmt.Errorf("%d commitment.recorded events could not be read", n)
	}
	return out, nil
}
