package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// reportLevels are the levels a register report counts open risks by, highest first, unscored
// risks (RISK_LEVEL_UNSPECIFIED) last: every level is listed, with 0 when it has no risk, so that
// the report always has the same shape.
var reportLevels = []riskv1.RiskLevel{riskv1.RiskLevel_CRITICAL, riskv1.RiskLevel_HIGH, riskv1.RiskLevel_MEDIUM,
	riskv1.RiskLevel_LOW, riskv1.RiskLevel_RISK_LEVEL_UNSPECIFIED}

// GetRiskRegisterReport implements riskv1.RiskServiceServer: the top risks of the filter by
// residual score, each with its residual score at the start of since_date from its score
// history, and the totals of the open risks the filter selects.
func (s *Server) GetRiskRegisterReport(ctx context.Context, req *riskv1.GetRiskRegisterReportRequest) (*riskv1.RiskRegisterReport, error) {
	sel, err := store.SelectRisks("filter", req.GetFilter())
	if err != nil {
		return nil, err
	}
	today := s.today()
	since, err := civil.FromProtoField(req.GetSinceDate(), "since_date")
	if err != nil {
		return nil, err
	}
	switch {
	case since.IsZero():
		since = today.AddDays(-domain.DefaultTrendDays)
	case today.Before(since):
		return nil, fault.Field("since_date", "AFTER_TODAY", fmt.Sprintf("since_date %s is after today (%s, UTC)", since, today))
	}
	top := int(req.GetTop())
	if top == 0 {
		top = domain.DefaultReportTop
	}

	risks, err := s.store.TopRisks(ctx, sel, top)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(risks))
	for i, r := range risks {
		ids[i] = r.ID
	}
	then, err := s.store.ScoresSince(ctx, ids, since.Time())
	if err != nil {
		return nil, err
	}
	totals, err := s.store.RegisterTotals(ctx, sel, today)
	if err != nil {
		return nil, err
	}

	pb := &riskv1.RiskRegisterReport{
		SinceDate:          civil.ToProto(since),
		OpenCount:          totals.Open,
		AboveAppetiteCount: totals.AboveAppetite,
		ReviewOverdueCount: totals.ReviewOverdue,
		ComputeTime:        timestamppb.New(s.now()),
	}
	for i, r := range risks {
		was := then[r.ID]
		wasScore := was.Likelihood * was.Impact
		trend, delta := domain.TrendOf(int(r.Residual.Value()), wasScore)
		e := &riskv1.RiskReportEntry{Risk: riskToProto(r), Rank: int32(i + 1), ScoreDelta: int32(delta),
			Trend: riskv1.RiskReportEntry_Trend(trend), ChangeCount: int32(was.Changes)}
		if wasScore > 0 {
			e.ResidualSince = &riskv1.RiskScore{Likelihood: int32(was.Likelihood), Impact: int32(was.Impact),
				Score: int32(wasScore), Level: riskv1.RiskLevel(was.Level)}
		}
		pb.Entries = append(pb.Entries, e)
	}
	for _, l := range reportLevels {
		pb.LevelCounts = append(pb.LevelCounts, &riskv1.LevelCount{Level: l, Count: totals.ByLevel[int(l)]})
	}
	return pb, nil
}
