package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The clients call the REST API through the front end, as a portal does. Every write carries a
// request ID (AIP-155), kept across the attempts of one call: an attempt that failed with 503, or
// got no answer, is repeated with the same ID, and the platform applies it once.

// attemptTimeout bounds one attempt; giveUp bounds one call over all its attempts.
const (
	attemptTimeout = 20 * time.Second
	giveUp         = 60 * time.Second
)

// attempt is one HTTP exchange of a call.
type attempt struct {
	at     time.Time
	took   time.Duration
	domain string
	write  bool
	status int // 0: no answer (transport error or timeout)
}

// failure is a call that did not succeed after its retries, or failed in a way not retried.
type failure struct {
	at     time.Time
	domain string
	op     string
	err    string
}

// recorder keeps every attempt and every failed call.
type recorder struct {
	mu       sync.Mutex
	attempts []attempt
	failures []failure
	calls    atomic.Int64
	retries  atomic.Int64
}

func (r *recorder) add(a attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

func (r *recorder) fail(f failure) {
	r.mu.Lock()
	r.failures = append(r.failures, f)
	r.mu.Unlock()
}

// client is one principal's REST client.
type client struct {
	base string
	key  string
	http *http.Client
	rec  *recorder
}

func newClient(base, key string, rec *recorder) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &client{base: base, key: key, http: &http.Client{Transport: tr}, rec: rec}
}

// statusError is an answer other than 200.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// retryable: the platform said UNAVAILABLE (503), or nothing came back.
func retryable(status int) bool {
	return status == 0 || status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// newRequestID returns a UUID 4.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// call makes one API call, repeating it after 503 or no answer, with the same body (and so the
// same request ID) every time, for at most giveUp.
func (c *client) call(ctx context.Context, domain, op, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	c.rec.calls.Add(1)
	first := time.Now()
	backoff := 50 * time.Millisecond
	for n := 0; ; n++ {
		if n > 0 {
			c.rec.retries.Add(1)
		}
		status, err := c.once(ctx, domain, method, path, payload, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(status) || time.Since(first) > giveUp {
			c.rec.fail(failure{at: time.Now(), domain: domain, op: op, err: err.Error()})
			return fmt.Errorf("%s: %w", op, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func (c *client) once(ctx context.Context, domain, method, path string, payload []byte, out any) (int, error) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, c.base+path, rd)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	a := attempt{at: start, domain: domain, write: method != http.MethodGet}
	resp, err := c.http.Do(req)
	if err != nil {
		a.took = time.Since(start)
		if ctx.Err() == nil {
			c.rec.add(a)
		}
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a.took, a.status = time.Since(start), resp.StatusCode
	c.rec.add(a)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return -1, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return http.StatusOK, nil
}

type named struct {
	Name string `json:"name"`
}

// acked is what the platform acknowledged, for the checks.
type acked struct {
	mu          sync.Mutex
	costCenters map[string]string // name → display name
	risks       map[string]string // name → title
	contracts   map[string]string // activated contract → its budget line
	assessed    map[string]string // vendor → its completed assessment
	teams       map[string]string // name → display name
}

func newAcked() *acked {
	return &acked{costCenters: map[string]string{}, risks: map[string]string{}, contracts: map[string]string{}, assessed: map[string]string{}, teams: map[string]string{}}
}

func (a *acked) put(m map[string]string, k, v string) {
	a.mu.Lock()
	m[k] = v
	a.mu.Unlock()
}

// fixtures are what the flows work on: budget lines for contracts, active vendors, a template.
type fixtures struct {
	lines       []string
	costCenters []string
	vendors     []string
	template    string
	year        int
}

// workload is the steady mixed load: each client runs the flows in turn.
type workload struct {
	owner, approver *client
	fx              *fixtures
	ack             *acked
	run             string // this run's token, in every display name
	seq             atomic.Int64
}

func (w *workload) token() string { return fmt.Sprintf("%s-%d", w.run, w.seq.Add(1)) }

// flows are the five kinds of work, across every service.
func (w *workload) flows() []func(context.Context) error {
	return []func(context.Context) error{w.costCenter, w.contract, w.assessment, w.risk, w.team, w.briefing}
}

// team creates a team on a cost centre, which talent checks with budget first (talent).
func (w *workload) team(ctx context.Context) error {
	display := "Proof " + w.token()
	n := int(w.seq.Add(1))
	var t named
	if err := w.owner.call(ctx, "talent", "create team", http.MethodPost, "/v1/teams?requestId="+newRequestID(),
		map[string]any{"displayName": display, "costCenter": w.fx.costCenters[n%len(w.fx.costCenters)]}, &t); err != nil {
		return err
	}
	w.ack.put(w.ack.teams, t.Name, display)
	return nil
}

// briefing reads the executive briefing (the briefing read model).
func (w *workload) briefing(ctx context.Context) error {
	return w.owner.call(ctx, "briefing", "get briefing", http.MethodGet, "/v1/briefing", nil, nil)
}

// costCenter creates a cost centre and reads it back (budget).
func (w *workload) costCenter(ctx context.Context) error {
	tok := w.token()
	display := "Proof " + tok
	var cc named
	if err := w.owner.call(ctx, "budget", "create cost centre", http.MethodPost, "/v1/costCenters?requestId="+newRequestID(),
		map[string]any{"displayName": display, "code": strings.ToUpper(tok), "owner": "owner@example.com"}, &cc); err != nil {
		return err
	}
	w.ack.put(w.ack.costCenters, cc.Name, display)
	return w.owner.call(ctx, "budget", "get cost centre", http.MethodGet, "/v1/"+cc.Name, nil, nil)
}

// contract creates, submits and approves a contract on a budget line (vendors, then budget
// through its consumer: the commitment).
func (w *workload) contract(ctx context.Context) error {
	n := int(w.seq.Add(1))
	vendor, line := w.fx.vendors[n%len(w.fx.vendors)], w.fx.lines[n%len(w.fx.lines)]
	value := map[string]any{"currencyCode": "EUR", "units": "100"}
	day := func(m, d int) map[string]any { return map[string]any{"year": w.fx.year, "month": m, "day": d} }
	now := time.Now().UTC()
	var c named
	if err := w.owner.call(ctx, "vendors", "create contract", http.MethodPost, "/v1/"+vendor+"/contracts?requestId="+newRequestID(), map[string]any{
		"title": "Proof " + w.token(), "totalValue": value, "annualValue": value, "billingFrequency": "ANNUALLY",
		"startDate": day(int(now.Month()), now.Day()), "endDate": day(12, 31), "budgetLine": line, "owner": "owner@example.com",
	}, &c); err != nil {
		return err
	}
	if err := w.owner.call(ctx, "vendors", "submit contract", http.MethodPost, "/v1/"+c.Name+":submit",
		map[string]any{"requestId": newRequestID()}, nil); err != nil {
		return err
	}
	if err := w.approver.call(ctx, "vendors", "approve contract", http.MethodPost, "/v1/"+c.Name+":approve",
		map[string]any{"requestId": newRequestID()}, nil); err != nil {
		return err
	}
	w.ack.put(w.ack.contracts, c.Name, line)
	return nil
}

// assessment creates a vendor and completes an assessment of it rated CRITICAL (vendors, then
// risk through its consumer: the vendor's risk).
func (w *workload) assessment(ctx context.Context) error {
	tok := w.token()
	var v named
	if err := w.owner.call(ctx, "vendors", "create vendor", http.MethodPost, "/v1/vendors?requestId="+newRequestID(),
		map[string]any{"displayName": "Proof " + tok, "legalName": "Proof " + tok + " Ltd", "category": "SAAS", "tier": 2,
			"dataAccess": "CONFIDENTIAL", "country": "DE", "owner": "owner@example.com"}, &v); err != nil {
		return err
	}
	var a named
	if err := w.owner.call(ctx, "vendors", "create assessment", http.MethodPost, "/v1/"+v.Name+"/assessments?requestId="+newRequestID(),
		map[string]any{"template": w.fx.template, "assessor": "assessor@example.com"}, &a); err != nil {
		return err
	}
	if err := w.owner.call(ctx, "vendors", "answer assessment", http.MethodPatch, "/v1/"+a.Name+"?updateMask=answers",
		map[string]any{"answers": []map[string]any{{"questionKey": "mfa", "rating": 0}, {"questionKey": "backups", "rating": 1}}}, nil); err != nil {
		return err
	}
	if err := w.owner.call(ctx, "vendors", "complete assessment", http.MethodPost, "/v1/"+a.Name+":complete",
		map[string]any{"requestId": newRequestID()}, nil); err != nil {
		return err
	}
	w.ack.put(w.ack.assessed, v.Name, a.Name)
	return nil
}

// risk identifies a risk and reads the register (risk).
func (w *workload) risk(ctx context.Context) error {
	title := "Proof " + w.token()
	var r named
	if err := w.owner.call(ctx, "risk", "create risk", http.MethodPost, "/v1/risks?requestId="+newRequestID(),
		map[string]any{"title": title, "category": "CYBERSECURITY", "owner": "owner@example.com"}, &r); err != nil {
		return err
	}
	w.ack.put(w.ack.risks, r.Name, title)
	return w.owner.call(ctx, "risk", "get risk", http.MethodGet, "/v1/"+r.Name, nil, nil)
}

// runLoad runs n clients until ctx ends; each runs the flows in turn, starting at its own.
func (w *workload) runLoad(ctx context.Context, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	flows := w.flows()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := i; ctx.Err() == nil; k++ {
				_ = flows[k%len(flows)](ctx) // failures are recorded by call
			}
		}()
	}
	return &wg
}

// makeFixtures makes the API keys, four approved budgets with a line each, eight active vendors
// and the assessment template.
func makeFixtures(ctx context.Context, front, adminKey string, rec *recorder) (owner, approver *client, fx *fixtures, err error) {
	admin := newClient(front, adminKey, rec)
	key := func(name, principal string, scopes ...string) (string, error) {
		var out struct {
			Key string `json:"key"`
		}
		err := admin.call(ctx, "iam", "create API key", http.MethodPost, "/v1/apiKeys",
			map[string]any{"displayName": name, "principal": principal, "scopes": scopes}, &out)
		return out.Key, err
	}
	ok, err := key("proof owner", "principals/proof-owner", "budget.read", "budget.write", "budget.spend",
		"vendors.read", "vendors.write", "vendors.finance", "risk.read", "risk.write", "briefing.read", "talent.read", "talent.write")
	if err != nil {
		return nil, nil, nil, err
	}
	ak, err := key("proof approver", "principals/proof-approver", "budget.read", "budget.approve", "budget.spend",
		"vendors.read", "vendors.write", "vendors.approve")
	if err != nil {
		return nil, nil, nil, err
	}
	owner, approver = newClient(front, ok, rec), newClient(front, ak, rec)
	fx = &fixtures{year: time.Now().UTC().Year()}
	for i := range 4 {
		var cc, b, l named
		if err := owner.call(ctx, "budget", "fixture", http.MethodPost, "/v1/costCenters",
			map[string]any{"displayName": fmt.Sprintf("Proof budget %d", i), "code": fmt.Sprintf("PROOF-B%d", i), "owner": "owner@example.com"}, &cc); err != nil {
			return nil, nil, nil, err
		}
		if err := owner.call(ctx, "budget", "fixture", http.MethodPost, "/v1/budgets",
			map[string]any{"costCenter": cc.Name, "fiscalYear": fx.year, "currencyCode": "EUR", "displayName": fmt.Sprintf("Proof %d", i)}, &b); err != nil {
			return nil, nil, nil, err
		}
		if err := owner.call(ctx, "budget", "fixture", http.MethodPost, "/v1/"+b.Name+"/lines",
			map[string]any{"displayName": "Run", "category": "CLOUD", "expenseType": "OPEX",
				"plannedAmount": map[string]any{"currencyCode": "EUR", "units": "100000000"}}, &l); err != nil {
			return nil, nil, nil, err
		}
		if err := owner.call(ctx, "budget", "fixture", http.MethodPost, "/v1/"+b.Name+":submit", map[string]any{}, nil); err != nil {
			return nil, nil, nil, err
		}
		if err := approver.call(ctx, "budget", "fixture", http.MethodPost, "/v1/"+b.Name+":approve", map[string]any{}, nil); err != nil {
			return nil, nil, nil, err
		}
		fx.lines = append(fx.lines, l.Name)
		fx.costCenters = append(fx.costCenters, cc.Name)
	}
	for i := range 8 {
		var v named
		if err := owner.call(ctx, "vendors", "fixture", http.MethodPost, "/v1/vendors",
			map[string]any{"displayName": fmt.Sprintf("Proof supplier %d", i), "legalName": fmt.Sprintf("Proof supplier %d Ltd", i),
				"category": "SAAS", "tier": 3, "dataAccess": "INTERNAL", "country": "DE", "owner": "owner@example.com"}, &v); err != nil {
			return nil, nil, nil, err
		}
		if err := owner.call(ctx, "vendors", "fixture", http.MethodPost, "/v1/"+v.Name+":startOnboarding", map[string]any{}, nil); err != nil {
			return nil, nil, nil, err
		}
		if err := approver.call(ctx, "vendors", "fixture", http.MethodPost, "/v1/"+v.Name+":activate", map[string]any{}, nil); err != nil {
			return nil, nil, nil, err
		}
		fx.vendors = append(fx.vendors, v.Name)
	}
	var t named
	if err := owner.call(ctx, "vendors", "fixture", http.MethodPost, "/v1/assessmentTemplates", map[string]any{
		"displayName": "Proof due diligence", "questions": []map[string]any{
			{"key": "mfa", "text": "Is MFA enforced for every administrative access?", "weight": 3, "critical": true},
			{"key": "backups", "text": "Are backups tested by restoring them at least quarterly?", "weight": 3}},
	}, &t); err != nil {
		return nil, nil, nil, err
	}
	fx.template = t.Name
	return owner, approver, fx, nil
}
