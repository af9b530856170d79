package server

import (
	"context"
	"fmt"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// A headcount plan's responses carry its actuals — the team's people on each quarter's last day
// and their loaded cost for the quarter, and its open positions — computed when read, from the
// people and positions as they stand. Its events and audit records carry the plan alone: the
// actual cost is pay (compensation), and the rest changes without the plan changing.

// scenarioMask follows the field behaviors of the HeadcountScenario message.
var scenarioMask = fieldmask.FromDescriptor((&talentv1.HeadcountScenario{}).ProtoReflect().Descriptor(), "name", "etag")

// planID parses a plan's name into its team's ID and fiscal year; the API's rules checked its form.
func planID(name string) (team string, fy int32, err error) {
	var id string
	if !domain.HeadcountPlanPattern.Scan(name, &team, &id) {
		return "", 0, domain.HeadcountPlanPattern.Invalid("name")
	}
	fy, ok := domain.ParseFiscalYear(id)
	if !ok {
		return "", 0, fault.Field("name", "INVALID_FISCAL_YEAR", "a plan's ID is its fiscal year, 2000 to 2100")
	}
	return team, fy, nil
}

// scenarioID parses a scenario's name.
func scenarioID(name, field string) (team string, fy int32, id string, err error) {
	var year string
	if !domain.HeadcountScenarioPattern.Scan(name, &team, &year, &id) {
		return "", 0, "", domain.HeadcountScenarioPattern.Invalid(field)
	}
	fy, ok := domain.ParseFiscalYear(year)
	if !ok {
		return "", 0, "", fault.Field(field, "INVALID_FISCAL_YEAR", "a plan's ID is its fiscal year, 2000 to 2100")
	}
	return team, fy, id, nil
}

// quartersOf reads the quarters of a plan or scenario in currency cur: each quarter (1 to 4) at
// most once, a missing one planning nothing; costs in the plan's currency.
func quartersOf(field string, in []*talentv1.HeadcountQuarter, cur money.Currency) ([domain.Quarters]domain.QuarterPlan, error) {
	var (
		out  [domain.Quarters]domain.QuarterPlan
		seen [domain.Quarters]bool
		vs   fault.Violations
	)
	for i, q := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		n := int(q.GetQuarter())
		if n < 1 || n > domain.Quarters {
			vs.Add(f+".quarter", "OUT_OF_RANGE", "quarter is 1 to 4")
			continue
		}
		if seen[n-1] {
			vs.Add(f+".quarter", "DUPLICATE", "each quarter is given once")
			continue
		}
		seen[n-1] = true
		out[n-1].Headcount = q.GetPlannedHeadcount()
		if q.GetPlannedCost() != nil {
			a, err := money.FromProtoField(q.GetPlannedCost(), cur, f+".planned_cost")
			if err != nil {
				return out, err
			}
			if a.Currency != cur {
				vs.Add(f+".planned_cost", "CURRENCY_MISMATCH", "planned_cost is in the plan's currency, "+string(cur))
				continue
			}
			out[n-1].CostMinor = a.Minor
		}
	}
	return out, vs.Err()
}

// quartersToProto is a plan's or scenario's quarters of fiscal year fy, placed by the service's
// calendar, with actuals when given.
func (s *Server) quartersToProto(fy int32, qs [domain.Quarters]domain.QuarterPlan, cur money.Currency, actuals *[domain.Quarters]domain.QuarterActual) []*talentv1.HeadcountQuarter {
	out := make([]*talentv1.HeadcountQuarter, domain.Quarters)
	for i, q := range qs {
		first, last := s.calendar.Quarter(fy, i+1)
		pb := &talentv1.HeadcountQuarter{
			Quarter:          int32(i + 1),
			PlannedHeadcount: q.Headcount,
			PlannedCost:      money.ToProto(money.Amount{Minor: q.CostMinor, Currency: cur}),
			StartDate:        civil.ToProto(first),
			EndDate:          civil.ToProto(last),
		}
		if actuals != nil {
			a := actuals[i]
			pb.ActualHeadcount, pb.OpenPositions = a.Headcount, a.OpenPositions
			if a.CostKnown {
				pb.ActualCost = money.ToProto(money.Amount{Minor: a.CostMinor, Currency: cur})
			}
		}
		out[i] = pb
	}
	return out
}

func (s *Server) planToProto(p *domain.HeadcountPlan, actuals *[domain.Quarters]domain.QuarterActual) *talentv1.HeadcountPlan {
	pb := &talentv1.HeadcountPlan{
		Name:         p.Name(),
		CurrencyCode: string(p.Currency),
		Quarters:     s.quartersToProto(p.FiscalYear, p.Quarters, p.Currency, actuals),
		CreateTime:   ts(p.CreateTime),
		UpdateTime:   ts(p.UpdateTime),
		Etag:         etag.Of(p.Name(), p.Version),
	}
	if p.AdoptedScenario != "" {
		pb.AdoptedScenario = p.Name() + "/scenarios/" + p.AdoptedScenario
	}
	return pb
}

func (s *Server) scenarioToProto(sc *domain.HeadcountScenario, cur money.Currency) *talentv1.HeadcountScenario {
	return &talentv1.HeadcountScenario{
		Name:        sc.Name(),
		DisplayName: sc.DisplayName,
		Description: sc.Description,
		Quarters:    s.quartersToProto(sc.FiscalYear, sc.Quarters, cur, nil),
		AdoptTime:   ts(sc.AdoptTime),
		CreateTime:  ts(sc.CreateTime),
		UpdateTime:  ts(sc.UpdateTime),
		Etag:        etag.Of(sc.Name(), sc.Version),
	}
}

// withActuals is the plan as its responses show it: with the actuals of its team as known now.
func (s *Server) withActuals(ctx context.Context, p *domain.HeadcountPlan) (*talentv1.HeadcountPlan, error) {
	staff, err := s.store.TeamStaff(ctx, p.TeamID)
	if err != nil {
		return nil, err
	}
	open, err := s.store.TeamOpenings(ctx, p.TeamID)
	if err != nil {
		return nil, err
	}
	openings := make([]domain.Opening, len(open))
	for i, o := range open {
		openings[i] = domain.Opening{TargetStart: o.TargetStart}
	}
	a := p.Actuals(s.calendar, staff, openings)
	return s.planToProto(p, &a), nil
}

// planResponse is the plan named by pb, the result of a write, with its actuals.
func (s *Server) planResponse(ctx context.Context, pb *talentv1.HeadcountPlan, err error) (*talentv1.HeadcountPlan, error) {
	if err != nil {
		return nil, err
	}
	team, fy, err := planID(pb.GetName())
	if err != nil {
		return nil, err
	}
	p, err := s.store.GetPlan(ctx, team, fy)
	if err != nil {
		return nil, err
	}
	return s.withActuals(ctx, p)
}

// CreateHeadcountPlan implements talentv1.TalentServiceServer.
func (s *Server) CreateHeadcountPlan(ctx context.Context, req *talentv1.CreateHeadcountPlanRequest) (*talentv1.HeadcountPlan, error) {
	teamID := idOf(domain.TeamPattern, req.GetParent())
	cur := money.Currency(req.GetHeadcountPlan().GetCurrencyCode())
	qs, err := quartersOf("headcount_plan.quarters", req.GetHeadcountPlan().GetQuarters(), cur)
	if err != nil {
		return nil, err
	}
	p, err := domain.NewHeadcountPlan(teamID, req.GetFiscalYear(), cur, qs, s.now())
	if err != nil {
		return nil, err
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateHeadcountPlan_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.HeadcountPlan, error) {
		if err := tx.InsertPlan(ctx, p); err != nil {
			return nil, err
		}
		pb := s.planToProto(p, nil)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: p.Name(), After: pb,
			Event: &talentv1.HeadcountPlanCreated{HeadcountPlan: pb, Version: p.Version}})
	})
	return s.planResponse(ctx, out, err)
}

// GetHeadcountPlan implements talentv1.TalentServiceServer.
func (s *Server) GetHeadcountPlan(ctx context.Context, req *talentv1.GetHeadcountPlanRequest) (*talentv1.HeadcountPlan, error) {
	team, fy, err := planID(req.GetName())
	if err != nil {
		return nil, err
	}
	p, err := s.store.GetPlan(ctx, team, fy)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return s.withActuals(ctx, p)
}

// ListHeadcountPlans implements talentv1.TalentServiceServer.
func (s *Server) ListHeadcountPlans(ctx context.Context, req *talentv1.ListHeadcountPlansRequest) (*talentv1.ListHeadcountPlansResponse, error) {
	team := idOf(domain.TeamPattern, req.GetParent())
	if req.GetParent() == "teams/-" {
		team = store.Wildcard
	}
	page, token, err := listing.List(ctx, req, store.PlanTable,
		func(ctx context.Context, lq *listing.Query) ([]*domain.HeadcountPlan, error) {
			return s.store.ListPlans(ctx, team, lq)
		},
		func(p *domain.HeadcountPlan) (*talentv1.HeadcountPlan, error) { return s.withActuals(ctx, p) })
	if err != nil {
		return nil, err
	}
	return &talentv1.ListHeadcountPlansResponse{HeadcountPlans: page, NextPageToken: token}, nil
}

// UpdateHeadcountPlan implements talentv1.TalentServiceServer: the quarters change (the
// currency is fixed at creation).
func (s *Server) UpdateHeadcountPlan(ctx context.Context, req *talentv1.UpdateHeadcountPlanRequest) (*talentv1.HeadcountPlan, error) {
	in := req.GetHeadcountPlan()
	team, fy, err := planID(in.GetName())
	if err != nil {
		return nil, fault.Prefix("headcount_plan", err)
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if p != "quarters" && p != "*" {
			return nil, fault.Field("update_mask", "FIELD_NOT_UPDATABLE", fmt.Sprintf("%s cannot be updated; only quarters can", p))
		}
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.HeadcountPlan, error) {
		p, err := tx.GetPlan(ctx, team, fy)
		if err != nil {
			return nil, fault.Named(err, in.GetName())
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		qs, err := quartersOf("headcount_plan.quarters", in.GetQuarters(), p.Currency)
		if err != nil {
			return nil, err
		}
		prev, before := p.Version, s.planToProto(p, nil)
		changed, err := p.SetQuarters(qs, s.now())
		if err != nil || !changed {
			return before, err
		}
		if err := tx.UpdatePlan(ctx, p, prev); err != nil {
			return nil, err
		}
		after := s.planToProto(p, nil)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &talentv1.HeadcountPlanUpdated{HeadcountPlan: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: []string{"quarters"}}, Version: p.Version}})
	})
	return s.planResponse(ctx, out, err)
}

// CreateHeadcountScenario implements talentv1.TalentServiceServer: a copy of the plan's
// quarters, or the quarters given.
func (s *Server) CreateHeadcountScenario(ctx context.Context, req *talentv1.CreateHeadcountScenarioRequest) (*talentv1.HeadcountScenario, error) {
	team, fy, err := planID(req.GetParent())
	if err != nil {
		return nil, fault.OnField(err, "parent")
	}
	in := req.GetHeadcountScenario()
	id := s.id(req.GetScenarioId())
	return idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateHeadcountScenario_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.HeadcountScenario, error) {
		p, err := tx.GetPlan(ctx, team, fy)
		if err != nil {
			return nil, fault.Named(err, req.GetParent())
		}
		var qs *[domain.Quarters]domain.QuarterPlan
		if len(in.GetQuarters()) > 0 {
			given, err := quartersOf("headcount_scenario.quarters", in.GetQuarters(), p.Currency)
			if err != nil {
				return nil, err
			}
			qs = &given
		}
		sc, err := domain.NewHeadcountScenario(p, id, in.GetDisplayName(), in.GetDescription(), qs, s.now())
		if err != nil {
			return nil, err
		}
		if err := tx.InsertScenario(ctx, sc); err != nil {
			return nil, err
		}
		pb := s.scenarioToProto(sc, p.Currency)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: sc.Name(), After: pb,
			Event: &talentv1.HeadcountScenarioCreated{HeadcountScenario: pb, Version: sc.Version}})
	})
}

// GetHeadcountScenario implements talentv1.TalentServiceServer.
func (s *Server) GetHeadcountScenario(ctx context.Context, req *talentv1.GetHeadcountScenarioRequest) (*talentv1.HeadcountScenario, error) {
	team, fy, id, err := scenarioID(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	p, err := s.store.GetPlan(ctx, team, fy)
	if err != nil {
		return nil, fault.Named(domain.ErrScenarioNotFound, req.GetName())
	}
	sc, err := s.store.GetScenario(ctx, team, fy, id)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return s.scenarioToProto(sc, p.Currency), nil
}

// ListHeadcountScenarios implements talentv1.TalentServiceServer.
func (s *Server) ListHeadcountScenarios(ctx context.Context, req *talentv1.ListHeadcountScenariosRequest) (*talentv1.ListHeadcountScenariosResponse, error) {
	team, fy, err := planID(req.GetParent())
	if err != nil {
		return nil, fault.OnField(err, "parent")
	}
	p, err := s.store.GetPlan(ctx, team, fy)
	if err != nil {
		return nil, fault.Named(err, req.GetParent())
	}
	page, token, err := listing.List(ctx, req, store.ScenarioTable,
		func(ctx context.Context, lq *listing.Query) ([]*domain.HeadcountScenario, error) {
			return s.store.ListScenarios(ctx, team, fy, lq)
		},
		listing.Infallible(func(sc *domain.HeadcountScenario) *talentv1.HeadcountScenario {
			return s.scenarioToProto(sc, p.Currency)
		}))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListHeadcountScenariosResponse{HeadcountScenarios: page, NextPageToken: token}, nil
}

// UpdateHeadcountScenario implements talentv1.TalentServiceServer.
func (s *Server) UpdateHeadcountScenario(ctx context.Context, req *talentv1.UpdateHeadcountScenarioRequest) (*talentv1.HeadcountScenario, error) {
	in := req.GetHeadcountScenario()
	team, fy, id, err := scenarioID(in.GetName(), "headcount_scenario.name")
	if err != nil {
		return nil, err
	}
	paths, err := scenarioMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.HeadcountScenario, error) {
		p, err := tx.GetPlan(ctx, team, fy)
		if err != nil {
			return nil, fault.Named(domain.ErrScenarioNotFound, in.GetName())
		}
		sc, err := tx.GetScenario(ctx, team, fy, id)
		if err != nil {
			return nil, fault.Named(err, in.GetName())
		}
		if err := etag.Check(in.GetEtag(), sc.Name(), sc.Version); err != nil {
			return nil, err
		}
		qs, err := quartersOf("headcount_scenario.quarters", in.GetQuarters(), p.Currency)
		if err != nil {
			return nil, err
		}
		prev, before := sc.Version, s.scenarioToProto(sc, p.Currency)
		changed, err := sc.Apply(paths, in.GetDisplayName(), in.GetDescription(), qs, s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateScenario(ctx, sc, prev); err != nil {
			return nil, err
		}
		after := s.scenarioToProto(sc, p.Currency)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: sc.Name(), Before: before, After: after,
			Event: &talentv1.HeadcountScenarioUpdated{HeadcountScenario: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: sc.Version}})
	})
}

// DeleteHeadcountScenario implements talentv1.TalentServiceServer.
func (s *Server) DeleteHeadcountScenario(ctx context.Context, req *talentv1.DeleteHeadcountScenarioRequest) (*emptypb.Empty, error) {
	team, fy, id, err := scenarioID(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := tx.GetPlan(ctx, team, fy)
		if err != nil {
			return fault.Named(domain.ErrScenarioNotFound, req.GetName())
		}
		sc, err := tx.GetScenario(ctx, team, fy, id)
		if err != nil {
			return fault.Named(err, req.GetName())
		}
		if err := etag.Check(req.GetEtag(), sc.Name(), sc.Version); err != nil {
			return err
		}
		if err := tx.DeleteScenario(ctx, sc); err != nil {
			return err
		}
		pb := s.scenarioToProto(sc, p.Currency)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: sc.Name(), Before: pb,
			Event: &talentv1.HeadcountScenarioDeleted{HeadcountScenario: pb, Version: sc.Version + 1}})
	}))
}

// CompareHeadcountScenarios implements talentv1.TalentServiceServer: the plan with its actuals
// and, side by side, each scenario with its differences from the plan, quarter by quarter.
func (s *Server) CompareHeadcountScenarios(ctx context.Context, req *talentv1.CompareHeadcountScenariosRequest) (*talentv1.CompareHeadcountScenariosResponse, error) {
	team, fy, err := planID(req.GetPlan())
	if err != nil {
		return nil, fault.OnField(err, "plan")
	}
	p, err := s.store.GetPlan(ctx, team, fy)
	if err != nil {
		return nil, fault.Named(err, req.GetPlan())
	}
	var scenarios []*domain.HeadcountScenario
	if len(req.GetScenarios()) == 0 {
		if scenarios, err = s.store.PlanScenarios(ctx, team, fy); err != nil {
			return nil, err
		}
	}
	for i, name := range req.GetScenarios() {
		field := fmt.Sprintf("scenarios[%d]", i)
		st, sfy, id, err := scenarioID(name, field)
		if err != nil {
			return nil, err
		}
		if st != team || sfy != fy {
			return nil, fault.Field(field, "NOT_A_SCENARIO_OF_PLAN", name+" is not a scenario of "+req.GetPlan())
		}
		sc, err := s.store.GetScenario(ctx, team, fy, id)
		if err != nil {
			return nil, fault.Named(err, name)
		}
		scenarios = append(scenarios, sc)
	}
	plan, err := s.withActuals(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &talentv1.CompareHeadcountScenariosResponse{Plan: plan}
	for _, sc := range scenarios {
		c := &talentv1.ScenarioComparison{Scenario: s.scenarioToProto(sc, p.Currency)}
		for q := range domain.Quarters {
			c.HeadcountDelta = append(c.HeadcountDelta, sc.Quarters[q].Headcount-p.Quarters[q].Headcount)
			c.CostDelta = append(c.CostDelta, signedMoney(sc.Quarters[q].CostMinor-p.Quarters[q].CostMinor, p.Currency))
		}
		out.Scenarios = append(out.Scenarios, c)
	}
	return out, nil
}

// signedMoney is minor units of cur, negative or not, as google.type.Money.
func signedMoney(minor int64, cur money.Currency) *moneypb.Money {
	return money.ToProto(money.Amount{Minor: minor, Currency: cur})
}

// AdoptHeadcountScenario implements talentv1.TalentServiceServer: the scenario's quarters
// become the plan's; the plan remembers which scenario it adopted.
func (s *Server) AdoptHeadcountScenario(ctx context.Context, req *talentv1.AdoptHeadcountScenarioRequest) (*talentv1.HeadcountPlan, error) {
	team, fy, id, err := scenarioID(req.GetName(), "name")
	if err != nil {
		return nil, err
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_AdoptHeadcountScenario_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.HeadcountPlan, error) {
		p, err := tx.GetPlan(ctx, team, fy)
		if err != nil {
			return nil, fault.Named(domain.ErrScenarioNotFound, req.GetName())
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		sc, err := tx.GetScenario(ctx, team, fy, id)
		if err != nil {
			return nil, fault.Named(err, req.GetName())
		}
		prevPlan, prevScenario := p.Version, sc.Version
		before, scBefore := s.planToProto(p, nil), s.scenarioToProto(sc, p.Currency)
		p.Adopt(sc, s.now())
		if err := tx.UpdatePlan(ctx, p, prevPlan); err != nil {
			return nil, err
		}
		if err := tx.UpdateScenario(ctx, sc, prevScenario); err != nil {
			return nil, err
		}
		after, scAfter := s.planToProto(p, nil), s.scenarioToProto(sc, p.Currency)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: sc.Name(), Before: scBefore, After: scAfter}); err != nil {
			return nil, err
		}
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &talentv1.HeadcountScenarioAdopted{HeadcountPlan: after, Scenario: scAfter, Version: p.Version}})
	})
	return s.planResponse(ctx, out, err)
}
