package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// cadence is the default review cadence: unscored, LOW, MEDIUM, HIGH, CRITICAL.
var cadence = [5]int{30, 365, 180, 90, 30}

func newRisk(t *testing.T) *domain.Risk {
	t.Helper()
	r, err := domain.NewRisk("r1", domain.RiskFields{Title: "t", Category: 1, Owner: "ana@example.com"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pair(l, i int32) *domain.Pair { return &domain.Pair{Likelihood: l, Impact: i} }

func TestDefaultMatrixLevels(t *testing.T) {
	t.Parallel()
	m := domain.DefaultMatrix()
	for _, c := range []struct {
		l, i int32
		want domain.Level
		ok   bool
	}{
		{1, 1, domain.LevelLow, true}, {2, 2, domain.LevelLow, true}, {1, 5, domain.LevelMedium, true},
		{3, 3, domain.LevelMedium, true}, {2, 5, domain.LevelHigh, true}, {4, 4, domain.LevelHigh, true},
		{4, 5, domain.LevelCritical, true}, {5, 5, domain.LevelCritical, true},
		{6, 1, domain.LevelUnscored, false}, {0, 1, domain.LevelUnscored, false},
	} {
		if got, ok := m.Level(c.l, c.i); got != c.want || ok != c.ok {
			t.Errorf("Level(%d, %d) = %v, %v; want %v, %v", c.l, c.i, got, ok, c.want, c.ok)
		}
	}
}

func TestMatrixNext(t *testing.T) {
	t.Parallel()
	base := domain.DefaultMatrix()
	cells := func(f func(c *domain.Cell)) []domain.Cell {
		out := make([]domain.Cell, len(base.Cells))
		copy(out, base.Cells)
		for k := range out {
			f(&out[k])
		}
		return out
	}
	for _, c := range []struct {
		name   string
		paths  []string
		f      domain.MatrixFields
		reason string // "" when the change is valid
		field  string
	}{
		{"same description", []string{domain.MatrixFieldDescription}, domain.MatrixFields{Description: base.Description}, "", ""},
		{"a cell up", []string{domain.MatrixFieldCells}, domain.MatrixFields{Cells: cells(func(c *domain.Cell) {
			if c.Likelihood == 4 && c.Impact == 4 {
				c.Level = domain.LevelCritical
			}
		})}, "", ""},
		{"not monotonic", []string{domain.MatrixFieldCells}, domain.MatrixFields{Cells: cells(func(c *domain.Cell) {
			if c.Likelihood == 5 && c.Impact == 5 {
				c.Level = domain.LevelLow
			}
		})}, "NOT_MONOTONIC", "cells"},
		{"a cell missing", []string{domain.MatrixFieldCells}, domain.MatrixFields{Cells: base.Cells[1:]}, "INCOMPLETE", "cells"},
		{"a cell twice", []string{domain.MatrixFieldCells}, domain.MatrixFields{Cells: append(base.Cells[:24:24], base.Cells[0])}, "DUPLICATE", "cells[24]"},
		{"one step", []string{domain.MatrixFieldLikelihood}, domain.MatrixFields{Likelihood: []domain.AxisLevel{{Label: "Only"}}}, "OUT_OF_RANGE", "likelihood_levels"},
		{"labels twice", []string{domain.MatrixFieldImpact}, domain.MatrixFields{Impact: []domain.AxisLevel{{Label: "A"}, {Label: "a"}, {Label: "B"}, {Label: "C"}, {Label: "D"}}}, "DUPLICATE", "impact_levels[1].label"},
		{"a smaller axis without new cells", []string{domain.MatrixFieldImpact}, domain.MatrixFields{Impact: []domain.AxisLevel{{Label: "A"}, {Label: "B"}}}, "OUT_OF_RANGE", "cells[2].impact"},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, changed, err := base.Next(c.paths, c.f, "cio@example.com", t0)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Next = %v", err)
				}
				if c.name == "same description" && (next != nil || changed != nil) {
					t.Errorf("an unchanged matrix made version %v", next)
				}
				if c.name == "a cell up" && (next.Version != 2 || len(changed) != 1 || next.Creator != "cio@example.com") {
					t.Errorf("next = v%d %v by %q", next.Version, changed, next.Creator)
				}
				return
			}
			f := fault.As(err)
			if f == nil || len(f.Violations) == 0 || f.Violations[0].Reason != c.reason || f.Violations[0].Field != c.field {
				t.Errorf("Next = %v; want %s on %s", err, c.reason, c.field)
			}
		})
	}
}

func TestAppetite(t *testing.T) {
	t.Parallel()
	a := domain.DefaultAppetite()
	if a.Above(1, domain.LevelMedium) || !a.Above(1, domain.LevelHigh) || a.Above(1, domain.LevelUnscored) {
		t.Error("the default appetite is not MEDIUM")
	}
	changed, cats, err := a.Apply([]string{domain.AppetiteFieldCategories},
		domain.AppetiteFields{Categories: []domain.CategoryAppetite{{Category: 3, Level: domain.LevelLow}}}, "cio", t0)
	if err != nil || len(changed) != 1 || len(cats) != 1 || cats[0] != 3 || a.Version != 1 {
		t.Fatalf("Apply = %v %v %v (v%d)", changed, cats, err, a.Version)
	}
	if !a.Above(3, domain.LevelMedium) || a.Above(2, domain.LevelMedium) {
		t.Error("compliance's appetite is not LOW, or another category's changed")
	}
	// A new default changes every category but the one set on its own.
	_, cats, _ = a.Apply([]string{domain.AppetiteFieldDefault}, domain.AppetiteFields{Default: domain.LevelHigh}, "cio", t0)
	if len(cats) != domain.MaxCategory-1 {
		t.Errorf("categories changed by the default = %v", cats)
	}
}

func TestRiskTransitions(t *testing.T) {
	t.Parallel()
	type step func(r *domain.Risk) error
	assess := func(r *domain.Risk) error {
		_, _, err := r.Assess(domain.DefaultMatrix(), domain.Assessment{Inherent: pair(3, 3), Reason: "x"}, t0)
		return err
	}
	treat := func(r *domain.Risk) error { return r.StartTreatment(1, "", t0) }
	monitor := func(r *domain.Risk) error { return r.Monitor(t0) }
	closeR := func(r *domain.Risk) error { _, err := r.Close("done", t0); return err }
	reopen := func(r *domain.Risk) error { return r.Reopen("again", t0) }
	for _, c := range []struct {
		name  string
		steps []step
		want  domain.RiskState
		err   error // of the last step
	}{
		{"assess", []step{assess}, domain.RiskAssessed, nil},
		{"treat unassessed", []step{treat}, domain.RiskIdentified, domain.ErrRiskInvalidTransition},
		{"treat", []step{assess, treat}, domain.RiskTreating, nil},
		{"monitor", []step{assess, treat, monitor}, domain.RiskMonitoring, nil},
		{"treat again", []step{assess, treat, monitor, treat}, domain.RiskTreating, nil},
		{"monitor assessed", []step{assess, monitor}, domain.RiskAssessed, domain.ErrRiskInvalidTransition},
		{"close identified", []step{closeR}, domain.RiskClosed, nil},
		{"close twice", []step{closeR, closeR}, domain.RiskClosed, domain.ErrRiskInvalidTransition},
		{"assess closed", []step{closeR, assess}, domain.RiskClosed, domain.ErrRiskClosed},
		{"reopen unscored", []step{closeR, reopen}, domain.RiskIdentified, nil},
		{"reopen scored", []step{assess, treat, closeR, reopen}, domain.RiskAssessed, nil},
		{"reopen open", []step{reopen}, domain.RiskIdentified, domain.ErrRiskInvalidTransition},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRisk(t)
			var err error
			for _, s := range c.steps {
				err = s(r)
			}
			if r.State != c.want || (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Errorf("state %v, err %v; want %v, %v", r.State, err, c.want, c.err)
			}
		})
	}
	r := newRisk(t)
	if err := assess(r); err != nil {
		t.Fatal(err)
	}
	if err := r.StartTreatment(0, "", t0); !errors.Is(err, domain.ErrTreatmentRequired) {
		t.Errorf("treatment without one = %v", err)
	}
}

func TestAssessAndReviewDates(t *testing.T) {
	t.Parallel()
	m := domain.DefaultMatrix()
	r := newRisk(t)
	r.PlanReview(cadence)
	if want := civil.DateOf(t0).AddDays(30); r.NextReviewDate != want {
		t.Errorf("unscored review = %v; want %v", r.NextReviewDate, want)
	}
	for _, c := range []struct {
		name               string
		inherent, residual *domain.Pair
		wantResidual       int32
		wantLevel          domain.Level
		wantDays           int
		change             bool
		err                string
	}{
		{"residual above inherent", pair(2, 2), pair(3, 3), 0, 0, 0, false, "RESIDUAL_ABOVE_INHERENT"},
		{"off the matrix", pair(2, 6), nil, 0, 0, 0, false, "INVALID_ARGUMENT"},
		{"first, residual from inherent", pair(4, 4), nil, 16, domain.LevelHigh, 90, true, ""},
		{"unchanged", nil, nil, 16, domain.LevelHigh, 90, false, ""},
		{"residual down", nil, pair(2, 2), 4, domain.LevelLow, 365, true, ""},
		{"inherent up, residual kept", pair(5, 5), nil, 4, domain.LevelLow, 365, true, ""},
	} {
		_, change, err := r.Assess(m, domain.Assessment{Inherent: c.inherent, Residual: c.residual, Actor: "ana", Reason: c.name}, t0)
		if c.err != "" {
			if f := fault.As(err); f == nil || f.Reason != c.err {
				t.Errorf("%s: err = %v; want %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r.PlanReview(cadence)
		if r.Residual.Value() != c.wantResidual || r.Residual.Level != c.wantLevel || (change != nil) != c.change ||
			r.NextReviewDate != civil.DateOf(t0).AddDays(c.wantDays) {
			t.Errorf("%s: residual %d %v, change %v, next review %v", c.name, r.Residual.Value(), r.Residual.Level, change, r.NextReviewDate)
		}
	}
	// An earlier review day wins over the cadence; a later one does not.
	if !r.ReviewDueOn(civil.DateOf(t0).AddDays(10), t0) || r.ReviewDueOn(civil.DateOf(t0).AddDays(20), t0) {
		t.Errorf("ReviewDueOn: next review %v", r.NextReviewDate)
	}
	// A closed risk has no review and is never above appetite.
	r.Residual.Level = domain.LevelCritical
	if _, err := r.Close("gone", t0); err != nil {
		t.Fatal(err)
	}
	if r.PlanReview(cadence); !r.NextReviewDate.IsZero() || r.MeasureAppetite(domain.DefaultAppetite()) {
		t.Errorf("closed risk: review %v, above appetite %v", r.NextReviewDate, r.AboveAppetite)
	}
}

func TestReactionIsNotAnAssessment(t *testing.T) {
	t.Parallel()
	r := newRisk(t)
	if _, _, err := r.Assess(domain.DefaultMatrix(), domain.Assessment{Inherent: pair(3, 3), Actor: "ana", Reason: "first"}, t0); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(48 * time.Hour)
	_, change, err := r.Assess(domain.DefaultMatrix(), domain.Assessment{Inherent: pair(4, 3), Residual: pair(4, 3),
		Actor: domain.ServiceActor, Reason: "attestation expired", Cause: "vendors/acme/attestations/soc2"}, later)
	if err != nil || change == nil || change.Actor != domain.ServiceActor || change.Cause != "vendors/acme/attestations/soc2" {
		t.Fatalf("reaction = %+v, %v", change, err)
	}
	if r.Assessor != "ana" || !r.AssessTime.Equal(t0) || !r.LastReviewTime.Equal(t0) || r.Residual.Value() != 12 {
		t.Errorf("after the reaction: assessor %q at %v, reviewed %v, residual %d; want ana at %v, the scores changed",
			r.Assessor, r.AssessTime, r.LastReviewTime, r.Residual.Value(), t0)
	}
}
