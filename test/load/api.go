package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
)

// api is what the scenarios call, over one of the three paths the harness compares.
type api interface {
	CreateCostCenter(ctx context.Context, id, parent string) error
	GetCostCenter(ctx context.Context, name string) error
	// ListCostCenters lists one page of pageSize and reports how many items it held.
	ListCostCenters(ctx context.Context, filter string, pageSize int) (int, error)
	// ReleaseCommitment releases one cent of a commitment (a custom method that changes state).
	ReleaseCommitment(ctx context.Context, name, currency string) error
	// CreateVendor creates a vendor of tier 3.
	CreateVendor(ctx context.Context, id string) error
	// ActivateContract creates a contract under vendor on the budget line, submits it and
	// approves it: three calls.
	ActivateContract(ctx context.Context, vendor, id, line string) error

	portalAPI
}

// The three paths.
const (
	pathREST    = "REST via gateway"
	pathGateway = "gRPC via gateway"
	pathDirect  = "gRPC direct to service"
)

// grpcAPI calls the services' gRPC APIs, through the gateway (API key) or directly (identity
// token, playing the gateway).
type grpcAPI struct {
	conns     []*grpc.ClientConn
	client    budgetv1.BudgetServiceClient
	vendors   vendorsv1.VendorsServiceClient
	risk      riskv1.RiskServiceClient
	incidents riskv1.IncidentServiceClient
	talent    talentv1.TalentServiceClient
	// approver is the same path as someone else, who may approve what this caller submits.
	approver *grpcAPI
}

// apiKeyCreds sends an API key as the gateway expects it on gRPC.
type apiKeyCreds string

func (k apiKeyCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(k)}, nil
}
func (apiKeyCreds) RequireTransportSecurity() bool { return false }

// targets are where a grpcAPI finds each service: the gateway's address for all of them, or each
// service's own gRPC port.
type targets struct{ budget, vendors, risk, talent string }

// everyService is the gateway's address as the target of every service.
func everyService(addr string) targets { return targets{addr, addr, addr, addr} }

// dialGRPC connects to each service at its target.
func dialGRPC(t targets, creds grpc.DialOption) (*grpcAPI, error) {
	g := &grpcAPI{}
	for _, a := range []string{t.budget, t.vendors, t.risk, t.talent} {
		conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()), creds)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("dial %s: %w", a, err)
		}
		g.conns = append(g.conns, conn)
	}
	g.client, g.vendors = budgetv1.NewBudgetServiceClient(g.conns[0]), vendorsv1.NewVendorsServiceClient(g.conns[1])
	g.risk, g.incidents = riskv1.NewRiskServiceClient(g.conns[2]), riskv1.NewIncidentServiceClient(g.conns[2])
	g.talent = talentv1.NewTalentServiceClient(g.conns[3])
	return g, nil
}

func (g *grpcAPI) close() {
	for _, c := range g.conns {
		c.Close()
	}
}

func (g *grpcAPI) CreateCostCenter(ctx context.Context, id, parent string) error {
	_, err := g.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
		CostCenterId: id,
		CostCenter:   newCostCenter(id, parent),
	})
	return err
}

func newCostCenter(id, parent string) *budgetv1.CostCenter {
	return &budgetv1.CostCenter{
		DisplayName: "Load " + id,
		Code:        codeOf(id),
		Owner:       "load@example.com",
		Parent:      parent,
		Description: "Created by the load harness.",
	}
}

func (g *grpcAPI) GetCostCenter(ctx context.Context, name string) error {
	_, err := g.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: name})
	return err
}

func (g *grpcAPI) ListCostCenters(ctx context.Context, filter string, pageSize int) (int, error) {
	resp, err := g.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageSize: int32(pageSize), Filter: filter})
	if err != nil {
		return 0, err
	}
	return len(resp.GetCostCenters()), nil
}

func (g *grpcAPI) ReleaseCommitment(ctx context.Context, name, currency string) error {
	_, err := g.client.ReleaseCommitment(ctx, &budgetv1.ReleaseCommitmentRequest{
		Name:   name,
		Amount: &money.Money{CurrencyCode: currency, Nanos: 10_000_000},
	})
	return err
}

// restAPI calls the REST API through the gateway with an API key, as a portal does.
type restAPI struct {
	base   string
	key    string
	client *http.Client
	// approver is the same path as someone else, who may approve what this caller submits.
	approver *restAPI
}

func newREST(base, key string) *restAPI {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 4096, 4096
	return &restAPI{base: base, key: key, client: &http.Client{Transport: t}}
}

// httpError is a REST call's failure, named by its status for the report.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// Kind names the error in the report's error counts.
func (e *httpError) Kind() string { return "HTTP " + strconv.Itoa(e.status) }

func (r *restAPI) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &httpError{status: resp.StatusCode, body: string(b)}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (r *restAPI) CreateCostCenter(ctx context.Context, id, parent string) error {
	cc := map[string]any{"displayName": "Load " + id, "code": codeOf(id), "owner": "load@example.com",
		"description": "Created by the load harness."}
	if parent != "" {
		cc["parent"] = parent
	}
	return r.do(ctx, http.MethodPost, "/v1/costCenters?costCenterId="+url.QueryEscape(id), cc, nil)
}

func (r *restAPI) GetCostCenter(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}

func (r *restAPI) ListCostCenters(ctx context.Context, filter string, pageSize int) (int, error) {
	var page struct {
		CostCenters []json.RawMessage `json:"costCenters"`
	}
	q := url.Values{"pageSize": {strconv.Itoa(pageSize)}, "filter": {filter}}
	if err := r.do(ctx, http.MethodGet, "/v1/costCenters?"+q.Encode(), nil, &page); err != nil {
		return 0, err
	}
	return len(page.CostCenters), nil
}

func (r *restAPI) ReleaseCommitment(ctx context.Context, name, currency string) error {
	return r.do(ctx, http.MethodPost, "/v1/"+name+":release",
		map[string]any{"amount": map[string]any{"currencyCode": currency, "nanos": 10_000_000}}, nil)
}

// createAPIKey makes an API key with scopes for principal through the admin API, with the
// bootstrap key.
func createAPIKey(ctx context.Context, rest, adminKey, name, principal string, scopes ...string) (string, error) {
	r := newREST(rest, adminKey)
	var out struct {
		Key string `json:"key"`
	}
	if err := r.do(ctx, http.MethodPost, "/v1/apiKeys", map[string]any{"displayName": name, "principal": principal, "scopes": scopes}, &out); err != nil {
		return "", fmt.Errorf("create API key %q: %w", name, err)
	}
	return out.Key, nil
}

// codeOf derives a cost centre code from its ID: upper case, at most 32 characters.
func codeOf(id string) string {
	b := []byte(id)
	if len(b) > 32 {
		b = b[len(b)-32:]
	}
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	if b[0] == '-' {
		b[0] = 'X'
	}
	return string(b)
}
