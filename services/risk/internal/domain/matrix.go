package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Level is the level of a risk, from a cell of the matrix; its values are those of the API's
// RiskLevel, in their order, so that levels compare as numbers. 0 is "not scored".
type Level int32

// The levels.
const (
	LevelUnscored Level = 0
	LevelLow      Level = 1
	LevelMedium   Level = 2
	LevelHigh     Level = 3
	LevelCritical Level = 4
)

// String is the level's API name.
func (l Level) String() string {
	switch l {
	case LevelUnscored:
		return "RISK_LEVEL_UNSPECIFIED"
	case LevelLow:
		return "LOW"
	case LevelMedium:
		return "MEDIUM"
	case LevelHigh:
		return "HIGH"
	case LevelCritical:
		return "CRITICAL"
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l >= LevelLow && l <= LevelCritical }

// Limits of the matrix, shared with the API's validation rules.
const (
	MinAxisSteps   = 2
	MaxAxisSteps   = 10
	maxAxisLabel   = 100
	maxAxisDesc    = 500
	maxMatrixDesc  = 2000
	defaultVersion = 1
)

// AxisLevel is one step of an axis of the matrix; its value is its position, from 1.
type AxisLevel struct {
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
}

// Cell is the level of one likelihood × impact pair of the matrix.
type Cell struct {
	Likelihood int32 `json:"likelihood"`
	Impact     int32 `json:"impact"`
	Level      Level `json:"level"`
}

// Matrix is one version of the likelihood × impact matrix risks are scored on. Versions are
// never changed: a change of the matrix makes the next version.
type Matrix struct {
	Version     int32
	Likelihood  []AxisLevel
	Impact      []AxisLevel
	Cells       []Cell // one per pair, ordered by likelihood then impact
	Description string
	Creator     string
	CreateTime  time.Time
}

// The client-writable fields of the matrix, by their API names.
const (
	MatrixFieldLikelihood  = "likelihood_levels"
	MatrixFieldImpact      = "impact_levels"
	MatrixFieldCells       = "cells"
	MatrixFieldDescription = "description"
)

// MatrixWritableFields lists the fields an update may change.
var MatrixWritableFields = []string{MatrixFieldLikelihood, MatrixFieldImpact, MatrixFieldCells, MatrixFieldDescription}

// DefaultMatrix is version 1: the 5×5 matrix every installation starts with. The level of a cell
// follows its score (likelihood × impact): LOW 1–4, MEDIUM 5–9, HIGH 10–16, CRITICAL 20–25.
func DefaultMatrix() *Matrix {
	m := &Matrix{
		Version: defaultVersion,
		Likelihood: []AxisLevel{
			{"Rare", "may happen only in exceptional circumstances (less than once in 10 years)"},
			{"Unlikely", "could happen at some time (once in 3 to 10 years)"},
			{"Possible", "might happen (once in 1 to 3 years)"},
			{"Likely", "will probably happen (about once a year)"},
			{"Almost certain", "is expected to happen (more than once a year)"},
		},
		Impact: []AxisLevel{
			{"Negligible", "no noticeable effect on operations, finances or reputation"},
			{"Minor", "a short disruption or a small loss, handled in the normal course of business"},
			{"Moderate", "a disruption of a business service or a loss that needs management attention"},
			{"Major", "a prolonged outage, a regulatory finding or a loss that affects the year's results"},
			{"Severe", "a threat to the organisation's operations, licence or reputation"},
		},
		Description: "the default 5×5 matrix",
	}
	for l := int32(1); l <= 5; l++ {
		for i := int32(1); i <= 5; i++ {
			var lvl Level
			switch s := l * i; {
			case s <= 4:
				lvl = LevelLow
			case s <= 9:
				lvl = LevelMedium
			case s <= 16:
				lvl = LevelHigh
			default:
				lvl = LevelCritical
			}
			m.Cells = append(m.Cells, Cell{Likelihood: l, Impact: i, Level: lvl})
		}
	}
	return m
}

// Name is the version's resource name, riskMatrix/versions/{version}.
func (m *Matrix) Name() string { return MatrixVersionName(m.Version) }

// MatrixVersionName returns the resource name of a version of the matrix.
func MatrixVersionName(version int32) string {
	return RiskMatrixPattern.Format(fmt.Sprint(version))
}

// Level is the level of the cell of likelihood l and impact i, and whether the matrix has it.
func (m *Matrix) Level(l, i int32) (Level, bool) {
	if l < 1 || i < 1 || int(l) > len(m.Likelihood) || int(i) > len(m.Impact) {
		return LevelUnscored, false
	}
	c := m.Cells[int(l-1)*len(m.Impact)+int(i-1)]
	return c.Level, true
}

// MatrixFields are the client-writable fields of the matrix.
type MatrixFields struct {
	Likelihood  []AxisLevel
	Impact      []AxisLevel
	Cells       []Cell
	Description string
}

// Next returns the version that follows m with the fields named in paths set to their values in
// f, made by creator at now, and the fields that changed; nil when nothing changed. The result
// must be a whole, monotonic matrix.
func (m *Matrix) Next(paths []string, f MatrixFields, creator string, now time.Time) (*Matrix, []string, error) {
	next := &Matrix{Version: m.Version + 1, Likelihood: m.Likelihood, Impact: m.Impact, Cells: m.Cells,
		Description: m.Description, Creator: creator, CreateTime: now.UTC().Truncate(time.Microsecond)}
	for _, p := range paths {
		switch p {
		case MatrixFieldLikelihood:
			next.Likelihood = trimAxis(f.Likelihood)
		case MatrixFieldImpact:
			next.Impact = trimAxis(f.Impact)
		case MatrixFieldCells:
			next.Cells = f.Cells
		case MatrixFieldDescription:
			next.Description = strings.TrimSpace(f.Description)
		}
	}
	if err := next.normalize(); err != nil {
		return nil, nil, err
	}
	var changed []string
	if !slices.Equal(next.Likelihood, m.Likelihood) {
		changed = append(changed, MatrixFieldLikelihood)
	}
	if !slices.Equal(next.Impact, m.Impact) {
		changed = append(changed, MatrixFieldImpact)
	}
	if !slices.Equal(next.Cells, m.Cells) {
		changed = append(changed, MatrixFieldCells)
	}
	if next.Description != m.Description {
		changed = append(changed, MatrixFieldDescription)
	}
	if len(changed) == 0 {
		return nil, nil, nil
	}
	return next, changed, nil
}

func trimAxis(a []AxisLevel) []AxisLevel {
	out := make([]AxisLevel, len(a))
	for i, s := range a {
		out[i] = AxisLevel{Label: strings.TrimSpace(s.Label), Description: strings.TrimSpace(s.Description)}
	}
	return out
}

// normalize checks the matrix and orders its cells by likelihood then impact. Every broken rule
// is reported, each as a violation of its field.
func (m *Matrix) normalize() error {
	var vs fault.Violations
	for _, axis := range []struct {
		field string
		steps []AxisLevel
	}{{MatrixFieldLikelihood, m.Likelihood}, {MatrixFieldImpact, m.Impact}} {
		if len(axis.steps) < MinAxisSteps || len(axis.steps) > MaxAxisSteps {
			vs.Add(axis.field, "OUT_OF_RANGE", fmt.Sprintf("%s must have %d to %d steps", axis.field, MinAxisSteps, MaxAxisSteps))
		}
		seen := map[string]bool{}
		for i, s := range axis.steps {
			field := fmt.Sprintf("%s[%d].label", axis.field, i)
			switch {
			case s.Label == "":
				vs.Add(field, "REQUIRED", "label is required")
			case utf8.RuneCountInString(s.Label) > maxAxisLabel:
				vs.Add(field, "TOO_LONG", fmt.Sprintf("label is longer than %d characters", maxAxisLabel))
			case seen[strings.ToLower(s.Label)]:
				vs.Add(field, "DUPLICATE", "the label is used twice on the axis")
			}
			seen[strings.ToLower(s.Label)] = true
			if utf8.RuneCountInString(s.Description) > maxAxisDesc {
				vs.Add(fmt.Sprintf("%s[%d].description", axis.field, i), "TOO_LONG",
					fmt.Sprintf("description is longer than %d characters", maxAxisDesc))
			}
		}
	}
	if utf8.RuneCountInString(m.Description) > maxMatrixDesc {
		vs.Add(MatrixFieldDescription, "TOO_LONG", fmt.Sprintf("description is longer than %d characters", maxMatrixDesc))
	}
	if err := vs.Err(); err != nil {
		return err
	}
	nl, ni := len(m.Likelihood), len(m.Impact)
	grid := make([]Level, nl*ni)
	for k, c := range m.Cells {
		field := fmt.Sprintf("%s[%d]", MatrixFieldCells, k)
		switch {
		case c.Likelihood < 1 || int(c.Likelihood) > nl:
			vs.Add(field+".likelihood", "OUT_OF_RANGE", fmt.Sprintf("likelihood must be 1 to %d", nl))
		case c.Impact < 1 || int(c.Impact) > ni:
			vs.Add(field+".impact", "OUT_OF_RANGE", fmt.Sprintf("impact must be 1 to %d", ni))
		case !c.Level.Valid():
			vs.Add(field+".level", "REQUIRED", "level is required")
		case grid[int(c.Likelihood-1)*ni+int(c.Impact-1)] != LevelUnscored:
			vs.Add(field, "DUPLICATE", fmt.Sprintf("the cell likelihood %d, impact %d is given twice", c.Likelihood, c.Impact))
		default:
			grid[int(c.Likelihood-1)*ni+int(c.Impact-1)] = c.Level
		}
	}
	if err := vs.Err(); err != nil {
		return err
	}
	var missing []string
	for k, lvl := range grid {
		if lvl == LevelUnscored {
			missing = append(missing, fmt.Sprintf("(%d,%d)", k/ni+1, k%ni+1))
		}
	}
	if len(missing) > 0 {
		return fault.Field(MatrixFieldCells, "INCOMPLETE",
			fmt.Sprintf("every likelihood × impact pair needs a cell; missing %s", strings.Join(missing, " ")))
	}
	// Monotonic: a cell is never lower than the cell below it or to its left.
	for l := range nl {
		for i := range ni {
			lvl := grid[l*ni+i]
			if (l > 0 && lvl < grid[(l-1)*ni+i]) || (i > 0 && lvl < grid[l*ni+i-1]) {
				return fault.Field(MatrixFieldCells, "NOT_MONOTONIC", fmt.Sprintf(
					"the cell likelihood %d, impact %d is lower than a cell with a lower likelihood or impact", l+1, i+1))
			}
		}
	}
	m.Cells = make([]Cell, 0, nl*ni)
	for k, lvl := range grid {
		m.Cells = append(m.Cells, Cell{Likelihood: int32(k/ni + 1), Impact: int32(k%ni + 1), Level: lvl})
	}
	return nil
}
