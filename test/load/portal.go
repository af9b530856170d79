package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"google.golang.org/genproto/googleapis/type/date"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// The portal scenario: a portal's day across the four domains — budget, vendors, risk and talent —
// with 80 % reads (gets, lists, the risk heat map) and 20 % creates, one per domain.

// portalAPI is what the portal scenario calls beyond the budget and vendors calls of api.
type portalAPI interface {
	GetBudget(ctx context.Context, name string) error
	GetVendor(ctx context.Context, name string) error
	// ListVendors, ListRisks and ListPeople list one page of pageSize and report how many items it
	// held.
	ListVendors(ctx context.Context, pageSize int) (int, error)
	CreateRisk(ctx context.Context, id string) error
	GetRisk(ctx context.Context, name string) error
	ListRisks(ctx context.Context, pageSize int) (int, error)
	// RiskHeatMap reads the heat map of the risks that are not closed and reports how many risks it
	// counted.
	RiskHeatMap(ctx context.Context) (int, error)
	CreatePerson(ctx context.Context, id, team string) error
	GetPerson(ctx context.Context, name string) error
	ListPeople(ctx context.Context, pageSize int) (int, error)
	GetTeam(ctx context.Context, name string) error
}

// Fixture sizes of the portal's risk and talent shares.
const (
	fixtureRisks  = 32 // assessed, spread over the heat map's cells
	fixturePeople = 32 // in one team
	portalPage    = 20
)

// portalFixtures are the risk and talent resources the portal reads.
type portalFixtures struct {
	budgets []string // the approved fixture budgets
	risks   []string
	team    string
	people  []string

	getBudget, getVendor, getRisk, getPerson atomic.Uint64
}

// makePortalFixtures creates the risks (each assessed, so that the heat map counts them) and a
// team of people, charged to a fixture cost centre.
func (f *fixtures) makePortalFixtures(ctx context.Context, owner *grpcAPI) error {
	p := &f.portal
	var jobs []func(context.Context) error
	p.risks = make([]string, fixtureRisks)
	for i := range p.risks {
		id := fmt.Sprintf("k%s-%d", f.prefix, i)
		p.risks[i] = "risks/" + id
		jobs = append(jobs, func(ctx context.Context) error {
			if err := owner.CreateRisk(ctx, id); err != nil {
				return fmt.Errorf("create risk: %w", err)
			}
			l, imp := int32(i%5)+1, int32(i/5%5)+1
			_, err := owner.risk.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: "risks/" + id, Reason: "load fixture",
				Inherent: &riskv1.RiskScore{Likelihood: l, Impact: imp}})
			if err != nil {
				return fmt.Errorf("assess risk: %w", err)
			}
			return nil
		})
	}
	if err := runJobs(ctx, 8, jobs); err != nil {
		return fmt.Errorf("fixture risks: %w", err)
	}
	teamID := "t" + f.prefix
	if _, err := owner.talent.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: teamID, Team: &talentv1.Team{
		DisplayName: "Load " + teamID, CostCenter: "costCenters/" + fmt.Sprintf("g%s-0", f.prefix)}}); err != nil {
		return fmt.Errorf("fixture team: %w", err)
	}
	p.team = "teams/" + teamID
	jobs = jobs[:0]
	p.people = make([]string, fixturePeople)
	for i := range p.people {
		id := fmt.Sprintf("h%s-%d", f.prefix, i)
		p.people[i] = "people/" + id
		jobs = append(jobs, func(ctx context.Context) error { return owner.CreatePerson(ctx, id, p.team) })
	}
	if err := runJobs(ctx, 8, jobs); err != nil {
		return fmt.Errorf("fixture people: %w", err)
	}
	return nil
}

// errEmptyPage is a list or heat map of the portal that found none of the fixtures.
var errEmptyPage = errors.New("list returned no items")

func atLeastOne(n int, err error) error {
	if err == nil && n == 0 {
		return errEmptyPage
	}
	return err
}

// portalCycle is the portal's 20-step cycle: 16 reads (4 per domain) and 4 creates (1 per domain).
var portalCycle = []string{
	"cc-get", "risk-get", "vendor-get", "person-get", "cc-list",
	"cc-create", "risk-heatmap", "vendor-list", "team-get", "budget-get",
	"risk-create", "risk-get", "vendor-get", "person-list", "cc-get",
	"vendor-create", "risk-list", "vendor-get", "person-get", "person-create",
}

var scenarioPortal = scenario{"portal", "a portal's day over budget, vendors, risk and talent: 80 % reads (gets, lists, the risk heat map), 20 % creates, one per domain",
	func(f *fixtures, a api) loadgen.Op {
		p := &f.portal
		ops := map[string]loadgen.Op{
			"cc-get": func(ctx context.Context) error { return a.GetCostCenter(ctx, pick(f.names, &f.get)) },
			"cc-list": func(ctx context.Context) error {
				return atLeastOne(a.ListCostCenters(ctx, pick(f.filters, &f.list), portalPage))
			},
			"cc-create": func(ctx context.Context) error { return a.CreateCostCenter(ctx, f.nextID(), "") },
			"budget-get": func(ctx context.Context) error {
				return a.GetBudget(ctx, pick(p.budgets, &p.getBudget))
			},
			"vendor-get":    func(ctx context.Context) error { return a.GetVendor(ctx, pick(f.vendors, &p.getVendor)) },
			"vendor-list":   func(ctx context.Context) error { return atLeastOne(a.ListVendors(ctx, portalPage)) },
			"vendor-create": func(ctx context.Context) error { return a.CreateVendor(ctx, "n"+f.nextID()) },
			"risk-get":      func(ctx context.Context) error { return a.GetRisk(ctx, pick(p.risks, &p.getRisk)) },
			"risk-list":     func(ctx context.Context) error { return atLeastOne(a.ListRisks(ctx, portalPage)) },
			"risk-heatmap":  func(ctx context.Context) error { return atLeastOne(a.RiskHeatMap(ctx)) },
			"risk-create":   func(ctx context.Context) error { return a.CreateRisk(ctx, "k"+f.nextID()) },
			"person-get":    func(ctx context.Context) error { return a.GetPerson(ctx, pick(p.people, &p.getPerson)) },
			"person-list":   func(ctx context.Context) error { return atLeastOne(a.ListPeople(ctx, portalPage)) },
			"person-create": func(ctx context.Context) error { return a.CreatePerson(ctx, "h"+f.nextID(), p.team) },
			"team-get":      func(ctx context.Context) error { return a.GetTeam(ctx, p.team) },
		}
		return func(ctx context.Context) error {
			return ops[portalCycle[int(f.portalMix.Add(1)-1)%len(portalCycle)]](ctx)
		}
	}}

func newRisk(id string) *riskv1.Risk {
	return &riskv1.Risk{Title: "Load " + id, Category: riskv1.Risk_TECHNOLOGY_ADOPTION, Owner: "load@example.com",
		Description: "Created by the load harness."}
}

func newPerson(id, team string) *talentv1.Person {
	return &talentv1.Person{DisplayName: "Load " + id, Team: team, EmploymentType: talentv1.Person_EMPLOYEE,
		StartDate: &date.Date{Year: 2024, Month: 3, Day: 1}, Title: "Engineer", Level: "L3"}
}

// gRPC.

func (g *grpcAPI) GetBudget(ctx context.Context, name string) error {
	_, err := g.client.GetBudget(ctx, &budgetv1.GetBudgetRequest{Name: name})
	return err
}

func (g *grpcAPI) GetVendor(ctx context.Context, name string) error {
	_, err := g.vendors.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: name})
	return err
}

func (g *grpcAPI) ListVendors(ctx context.Context, pageSize int) (int, error) {
	r, err := g.vendors.ListVendors(ctx, &vendorsv1.ListVendorsRequest{PageSize: int32(pageSize)})
	return len(r.GetVendors()), err
}

func (g *grpcAPI) CreateRisk(ctx context.Context, id string) error {
	_, err := g.risk.CreateRisk(ctx, &riskv1.CreateRiskRequest{RiskId: id, Risk: newRisk(id)})
	return err
}

func (g *grpcAPI) GetRisk(ctx context.Context, name string) error {
	_, err := g.risk.GetRisk(ctx, &riskv1.GetRiskRequest{Name: name})
	return err
}

func (g *grpcAPI) ListRisks(ctx context.Context, pageSize int) (int, error) {
	r, err := g.risk.ListRisks(ctx, &riskv1.ListRisksRequest{PageSize: int32(pageSize)})
	return len(r.GetRisks()), err
}

func (g *grpcAPI) RiskHeatMap(ctx context.Context) (int, error) {
	r, err := g.risk.GetRiskHeatMap(ctx, &riskv1.GetRiskHeatMapRequest{})
	return int(r.GetTotalCount()), err
}

func (g *grpcAPI) CreatePerson(ctx context.Context, id, team string) error {
	_, err := g.talent.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: id, Person: newPerson(id, team)})
	return err
}

func (g *grpcAPI) GetPerson(ctx context.Context, name string) error {
	_, err := g.talent.GetPerson(ctx, &talentv1.GetPersonRequest{Name: name})
	return err
}

func (g *grpcAPI) ListPeople(ctx context.Context, pageSize int) (int, error) {
	r, err := g.talent.ListPeople(ctx, &talentv1.ListPeopleRequest{PageSize: int32(pageSize)})
	return len(r.GetPeople()), err
}

func (g *grpcAPI) GetTeam(ctx context.Context, name string) error {
	_, err := g.talent.GetTeam(ctx, &talentv1.GetTeamRequest{Name: name})
	return err
}

// REST.

func (r *restAPI) GetBudget(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}

func (r *restAPI) GetVendor(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}

// count lists path and counts the items of the answer's field.
func (r *restAPI) count(ctx context.Context, path, field string) (int, error) {
	var page map[string]json.RawMessage
	if err := r.do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return 0, err
	}
	var items []json.RawMessage
	if raw, ok := page[field]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
	}
	return len(items), nil
}

func (r *restAPI) ListVendors(ctx context.Context, pageSize int) (int, error) {
	return r.count(ctx, "/v1/vendors?pageSize="+strconv.Itoa(pageSize), "vendors")
}

func (r *restAPI) CreateRisk(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodPost, "/v1/risks?riskId="+url.QueryEscape(id), map[string]any{
		"title": "Load " + id, "category": "TECHNOLOGY_ADOPTION", "owner": "load@example.com",
		"description": "Created by the load harness."}, nil)
}

func (r *restAPI) GetRisk(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}

func (r *restAPI) ListRisks(ctx context.Context, pageSize int) (int, error) {
	return r.count(ctx, "/v1/risks?pageSize="+strconv.Itoa(pageSize), "risks")
}

func (r *restAPI) RiskHeatMap(ctx context.Context) (int, error) {
	var m struct {
		TotalCount string `json:"totalCount"` // an int64: a string in JSON
	}
	if err := r.do(ctx, http.MethodGet, "/v1/riskHeatMap", nil, &m); err != nil || m.TotalCount == "" {
		return 0, err
	}
	return strconv.Atoi(m.TotalCount)
}

func (r *restAPI) CreatePerson(ctx context.Context, id, team string) error {
	return r.do(ctx, http.MethodPost, "/v1/people?personId="+url.QueryEscape(id), map[string]any{
		"displayName": "Load " + id, "team": team, "employmentType": "EMPLOYEE",
		"startDate": map[string]any{"year": 2024, "month": 3, "day": 1}, "title": "Engineer", "level": "L3"}, nil)
}

func (r *restAPI) GetPerson(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}

func (r *restAPI) ListPeople(ctx context.Context, pageSize int) (int, error) {
	return r.count(ctx, "/v1/people?pageSize="+strconv.Itoa(pageSize), "people")
}

func (r *restAPI) GetTeam(ctx context.Context, name string) error {
	return r.do(ctx, http.MethodGet, "/v1/"+name, nil, nil)
}
