package domain

// A HeatCell is a likelihood × impact pair of the risk matrix, where a heat map counts risks;
// the zero HeatCell is where a risk not scored yet stands.
type HeatCell struct{ Likelihood, Impact int32 }

// Scored reports whether c is a cell a risk was scored in, rather than the place of an unscored
// risk.
func (c HeatCell) Scored() bool { return c.Likelihood > 0 && c.Impact > 0 }

// A HeatMapGroup is how many of the risks a heat map counts share one inherent and one residual
// cell: what the store reads, grouped, so that a heat map over any number of risks is built from
// at most a few hundred groups.
type HeatMapGroup struct {
	Inherent, Residual HeatCell
	Count              int64
}

// A HeatMap counts risks in the cells of a matrix of Likelihoods × Impacts steps, once by their
// inherent and once by their residual cell. A risk scored on a step the matrix does not have (on
// another version of it) is counted in the cells it has and in OutsideMatrix; a risk not scored
// yet is counted in Unscored only.
type HeatMap struct {
	Likelihoods, Impacts int32
	Inherent, Residual   map[HeatCell]int64
	// Total is every risk counted, scored or not.
	Total, Unscored, OutsideMatrix int64
}

// NewHeatMap counts groups on a matrix of likelihoods × impacts steps.
func NewHeatMap(likelihoods, impacts int32, groups []HeatMapGroup) *HeatMap {
	h := &HeatMap{Likelihoods: likelihoods, Impacts: impacts,
		Inherent: map[HeatCell]int64{}, Residual: map[HeatCell]int64{}}
	for _, g := range groups {
		h.Total += g.Count
		if !g.Inherent.Scored() {
			h.Unscored += g.Count
			continue
		}
		inherent, residual := h.Contains(g.Inherent), h.Contains(g.Residual)
		if inherent {
			h.Inherent[g.Inherent] += g.Count
		}
		if residual {
			h.Residual[g.Residual] += g.Count
		}
		if !inherent || !residual {
			h.OutsideMatrix += g.Count
		}
	}
	return h
}

// Contains reports whether the matrix has the cell c.
func (h *HeatMap) Contains(c HeatCell) bool {
	return c.Likelihood >= 1 && c.Likelihood <= h.Likelihoods && c.Impact >= 1 && c.Impact <= h.Impacts
}

// Cells returns every cell of the matrix, ordered by likelihood, then impact.
func (h *HeatMap) Cells() []HeatCell {
	cells := make([]HeatCell, 0, int(h.Likelihoods*h.Impacts))
	for l := int32(1); l <= h.Likelihoods; l++ {
		for i := int32(1); i <= h.Impacts; i++ {
			cells = append(cells, HeatCell{Likelihood: l, Impact: i})
		}
	}
	return cells
}
