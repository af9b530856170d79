package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// GetRiskHeatMap implements riskv1.RiskServiceServer: the risks the filter selects, counted by
// cell in the database (store.HeatMapGroups), laid out on the matrix version asked for.
func (s *Server) GetRiskHeatMap(ctx context.Context, req *riskv1.GetRiskHeatMapRequest) (*riskv1.RiskHeatMap, error) {
	sel, err := store.SelectRisks("filter", req.GetFilter())
	if err != nil {
		return nil, err
	}
	m, matrixName, err := s.heatMapMatrix(ctx, req.GetMatrixVersion())
	if err != nil {
		return nil, err
	}
	groups, err := s.store.HeatMapGroups(ctx, sel)
	if err != nil {
		return nil, err
	}
	hm := domain.NewHeatMap(int32(len(m.Likelihood)), int32(len(m.Impact)), groups)
	var inherentRisks, residualRisks map[domain.HeatCell][]string
	if n := int(req.GetRisksPerCell()); n > 0 {
		if inherentRisks, err = s.store.CellRisks(ctx, sel, false, occupied(hm.Inherent), n); err != nil {
			return nil, err
		}
		if residualRisks, err = s.store.CellRisks(ctx, sel, true, occupied(hm.Residual), n); err != nil {
			return nil, err
		}
	}
	pb := &riskv1.RiskHeatMap{
		Matrix:             matrixToProto(m, matrixName),
		TotalCount:         hm.Total,
		UnscoredCount:      hm.Unscored,
		OutsideMatrixCount: hm.OutsideMatrix,
		ComputeTime:        timestamppb.New(s.now()),
	}
	for _, c := range hm.Cells() {
		lvl, _ := m.Level(c.Likelihood, c.Impact)
		level := riskv1.RiskLevel(lvl)
		pb.Inherent = append(pb.Inherent, heatMapCellToProto(c, level, hm.Inherent[c], inherentRisks[c]))
		pb.Residual = append(pb.Residual, heatMapCellToProto(c, level, hm.Residual[c], residualRisks[c]))
	}
	return pb, nil
}

// heatMapMatrix returns the version of the matrix a heat map is laid out on and its name as the
// heat map shows it: the current version (named riskMatrix) for 0.
func (s *Server) heatMapMatrix(ctx context.Context, version int32) (*domain.Matrix, string, error) {
	if version == 0 {
		m, err := s.store.CurrentMatrix(ctx)
		return m, domain.RiskMatrixName, err
	}
	m, err := s.store.MatrixVersion(ctx, version)
	if err != nil {
		return nil, "", err
	}
	return m, m.Name(), nil
}

func heatMapCellToProto(c domain.HeatCell, level riskv1.RiskLevel, count int64, ids []string) *riskv1.HeatMapCell {
	pb := &riskv1.HeatMapCell{Likelihood: int32(c.Likelihood), Impact: int32(c.Impact), Level: level,
		Score: int32(c.Likelihood * c.Impact), Count: count}
	for _, id := range ids {
		pb.Risks = append(pb.Risks, domain.RiskName(id))
	}
	return pb
}

// occupied returns the cells of counts with at least one risk: the only ones worth asking the
// names of.
func occupied(counts map[domain.HeatCell]int64) []domain.HeatCell {
	var cells []domain.HeatCell
	for c, n := range counts {
		if n > 0 {
			cells = append(cells, c)
		}
	}
	return cells
}
