package server

import (
	"cmp"
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// maxMetricsYears is the longest range the metrics cover.
const maxMetricsYears = 10

// metricsGroups maps the API's grouping to the store's.
var metricsGroups = map[riskv1.IncidentMetrics_GroupBy]store.MetricsGroup{
	riskv1.IncidentMetrics_GROUP_BY_UNSPECIFIED: store.GroupNone,
	riskv1.IncidentMetrics_SEVERITY:             store.GroupSeverity,
	riskv1.IncidentMetrics_TYPE:                 store.GroupType,
	riskv1.IncidentMetrics_VENDOR:               store.GroupVendor,
}

// GetIncidentMetrics implements riskv1.IncidentServiceServer: the store sums the incidents
// detected in the range per group and month (store.IncidentTallies), and the domain adds the
// months into the total, the groups and their series (domain.NewMetrics).
func (s *Incidents) GetIncidentMetrics(ctx context.Context, req *riskv1.GetIncidentMetricsRequest) (*riskv1.IncidentMetrics, error) {
	from, to := civil.FromProto(req.GetStartDate()), civil.FromProto(req.GetEndDate())
	var vs fault.Violations
	switch {
	case !from.Valid():
		vs.Add("start_date", "INVALID_DATE", "start_date must be a calendar date")
	case !to.Valid():
		vs.Add("end_date", "INVALID_DATE", "end_date must be a calendar date")
	case to.Before(from):
		vs.Add("end_date", "BEFORE_START", "end_date must not be before start_date")
	case from.AddMonths(12 * maxMetricsYears).Before(to):
		vs.Add("end_date", "RANGE_TOO_LONG", "the range must not be longer than 10 years")
	}
	group, ok := metricsGroups[req.GetGroupBy()]
	if !ok {
		vs.Add("group_by", "INVALID_VALUE", "group_by is not one of the defined values")
	}
	period := domain.MetricsPeriod(req.GetPeriod())
	if period < domain.PeriodNone || period > domain.PeriodQuarter {
		vs.Add("period", "INVALID_VALUE", "period is not one of the defined values")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	where, args, err := filter.CompileField("filter", req.GetFilter(), store.IncidentTable.Schema, 3)
	if err != nil {
		return nil, err
	}
	months, err := s.store.IncidentTallies(ctx, group, from.Time(), to.AddDays(1).Time(), where, args)
	if err != nil {
		return nil, err
	}
	m := domain.NewMetrics(months, from, to, period, groupOrder(req.GetGroupBy()))
	out := &riskv1.IncidentMetrics{
		StartDate: civil.ToProto(from), EndDate: civil.ToProto(to), GroupBy: req.GetGroupBy(), Period: req.GetPeriod(),
		Total: figuresToProto(m.Total), ComputeTime: timestamppb.New(s.now()),
	}
	for _, g := range m.Groups {
		pg := &riskv1.IncidentMetricsGroup{Key: groupKey(req.GetGroupBy(), g.Key), Figures: figuresToProto(g.Total)}
		for i, t := range g.Series {
			pg.Series = append(pg.Series, &riskv1.IncidentMetricsPoint{PeriodStart: civil.ToProto(m.Periods[i]), Figures: figuresToProto(t)})
		}
		out.Groups = append(out.Groups, pg)
	}
	return out, nil
}

// groupKey is the API's key of a group the store keys by a column's text: a severity's or a
// type's name, a vendor's name.
func groupKey(by riskv1.IncidentMetrics_GroupBy, key string) string {
	n, err := strconv.Atoi(key)
	switch {
	case by == riskv1.IncidentMetrics_SEVERITY && err == nil:
		return riskv1.Incident_Severity(n).String()
	case by == riskv1.IncidentMetrics_TYPE && err == nil:
		return riskv1.Incident_Type(n).String()
	}
	return key
}

// groupOrder orders the store's group keys as the API lists groups: severities and types by
// their numbers, vendors by name with the incidents without a vendor (key "") last.
func groupOrder(by riskv1.IncidentMetrics_GroupBy) func(a, b string) int {
	if by == riskv1.IncidentMetrics_SEVERITY || by == riskv1.IncidentMetrics_TYPE {
		return func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return cmp.Compare(x, y)
		}
	}
	return func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "":
			return 1
		case b == "":
			return -1
		}
		return cmp.Compare(a, b)
	}
}

// figuresToProto is a tally as the API shows it: the means unset without an incident that
// reached the step.
func figuresToProto(t domain.Tally) *riskv1.IncidentFigures {
	pb := &riskv1.IncidentFigures{IncidentCount: t.Count, AcknowledgedCount: t.Acknowledged, MitigatedCount: t.Mitigated,
		ResolvedCount: t.Resolved, OpenCount: t.Open()}
	mean := func(seconds, n int64) *durationpb.Duration {
		if d, ok := domain.Mean(seconds, n); ok {
			return durationpb.New(d)
		}
		return nil
	}
	pb.Mtta, pb.Mttm, pb.Mttr = mean(t.AckSeconds, t.Acknowledged), mean(t.MitigateSeconds, t.Mitigated), mean(t.ResolveSeconds, t.Resolved)
	for _, a := range t.Costs() {
		pb.Cost = append(pb.Cost, money.ToProto(a))
	}
	return pb
}
