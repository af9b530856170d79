package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

var t0 = time.Date(2026, 11, 28, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

func ptr[T any](v T) *T { return &v }

// violations returns "field:REASON" for each violation of err, or nil when err has none.
func violations(t *testing.T, err error) []string {
	t.Helper()
	fe := fault.As(err)
	if fe == nil {
		return nil
	}
	var out []string
	for _, v := range fe.Violations {
		out = append(out, v.Field+":"+v.Reason)
	}
	return out
}

// asFault returns err's *fault.Error, or an internal one, so that a test can read the fields of
// any error.
func asFault(err error) *fault.Error {
	if fe := fault.As(err); fe != nil {
		return fe
	}
	return &fault.Error{Kind: fault.Internal, Message: err.Error()}
}

func TestNewCostCenter(t *testing.T) {
	valid := CostCenterFields{DisplayName: "Infrastructure", Code: "CC-100"}
	tests := []struct {
		name       string
		id         string
		fields     CostCenterFields
		wantErr    error
		violations []string
		check      func(t *testing.T, c *CostCenter)
	}{
		{
			name: "defaults: active, version 1, UTC microsecond times, trimmed names",
			id:   "infra", fields: CostCenterFields{DisplayName: "  Infrastructure ", Code: "CC-100", Owner: " ana@example.com "},
			check: func(t *testing.T, c *CostCenter) {
				if !c.Active || c.Version != 1 || c.DisplayName != "Infrastructure" || c.Owner != "ana@example.com" {
					t.Errorf("got %+v", c)
				}
				want := t0.UTC().Truncate(time.Microsecond)
				if !c.CreateTime.Equal(want) || c.CreateTime.Location() != time.UTC || !c.UpdateTime.Equal(want) {
					t.Errorf("times = %v/%v, want %v UTC", c.CreateTime, c.UpdateTime, want)
				}
				if c.Name() != "costCenters/infra" {
					t.Errorf("name = %q", c.Name())
				}
			},
		},
		{
			name: "explicitly inactive", id: "x", fields: CostCenterFields{DisplayName: "X", Code: "X", Active: ptr(false)},
			check: func(t *testing.T, c *CostCenter) {
				if c.Active {
					t.Error("want inactive")
				}
			},
		},
		{name: "display name and code required", id: "x", fields: CostCenterFields{DisplayName: "   "},
			wantErr: fault.Invalid(fault.Violation{}), violations: []string{"display_name:REQUIRED", "code:REQUIRED"}},
		{name: "lower-case code", id: "x", fields: CostCenterFields{DisplayName: "X", Code: "cc-100"},
			violations: []string{"code:INVALID_FORMAT"}},
		{name: "code too long", id: "x", fields: CostCenterFields{DisplayName: "X", Code: strings.Repeat("A", 33)},
			violations: []string{"code:INVALID_FORMAT"}},
		{name: "code of 32 characters", id: "x", fields: CostCenterFields{DisplayName: "X", Code: strings.Repeat("A", 32)}},
		{name: "display name of 200 runes", id: "x", fields: CostCenterFields{DisplayName: strings.Repeat("é", 200), Code: "A"}},
		{name: "display name of 201 runes", id: "x", fields: CostCenterFields{DisplayName: strings.Repeat("é", 201), Code: "A"},
			violations: []string{"display_name:TOO_LONG"}},
		{name: "owner and description too long", id: "x",
			fields:     CostCenterFields{DisplayName: "X", Code: "A", Owner: strings.Repeat("o", 257), Description: strings.Repeat("d", 2001)},
			violations: []string{"owner:TOO_LONG", "description:TOO_LONG"}},
		{name: "own parent", id: "x", fields: CostCenterFields{DisplayName: "X", Code: "A", ParentID: "x"}, wantErr: ErrParentCycle},
		{name: "valid", id: "x", fields: valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCostCenter(tt.id, tt.fields, t0)
			got := violations(t, err)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case tt.violations != nil && !slices.Equal(got, tt.violations):
				t.Fatalf("violations = %v, want %v", got, tt.violations)
			case tt.wantErr == nil && tt.violations == nil && err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			if err == nil && tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestApply(t *testing.T) {
	base := func() *CostCenter {
		c, err := NewCostCenter("infra", CostCenterFields{DisplayName: "Infrastructure", Code: "CC-100", Owner: "ana"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	later := t0.Add(time.Hour)
	tests := []struct {
		name        string
		paths       []string
		fields      CostCenterFields
		wantChanged []string
		wantErr     bool
		check       func(t *testing.T, c *CostCenter)
	}{
		{name: "change two fields", paths: []string{FieldDisplayName, FieldOwner},
			fields: CostCenterFields{DisplayName: "Infra & Ops", Owner: "bo"}, wantChanged: []string{FieldDisplayName, FieldOwner},
			check: func(t *testing.T, c *CostCenter) {
				if c.DisplayName != "Infra & Ops" || c.Owner != "bo" || c.Code != "CC-100" || c.Version != 2 || !c.UpdateTime.Equal(later.UTC().Truncate(time.Microsecond)) {
					t.Errorf("got %+v", c)
				}
				if !c.CreateTime.Equal(t0.UTC().Truncate(time.Microsecond)) {
					t.Errorf("create time changed: %v", c.CreateTime)
				}
			}},
		{name: "fields outside the paths are not applied", paths: []string{FieldOwner},
			fields: CostCenterFields{DisplayName: "ignored", Owner: "bo"}, wantChanged: []string{FieldOwner},
			check: func(t *testing.T, c *CostCenter) {
				if c.DisplayName != "Infrastructure" {
					t.Errorf("display name = %q", c.DisplayName)
				}
			}},
		{name: "same values change nothing and keep the version", paths: []string{FieldDisplayName, FieldCode},
			fields: CostCenterFields{DisplayName: "Infrastructure", Code: "CC-100"}, wantChanged: nil,
			check: func(t *testing.T, c *CostCenter) {
				if c.Version != 1 || !c.UpdateTime.Equal(c.CreateTime) {
					t.Errorf("got version %d update %v", c.Version, c.UpdateTime)
				}
			}},
		{name: "deactivate with nil Active", paths: []string{FieldActive}, wantChanged: []string{FieldActive},
			check: func(t *testing.T, c *CostCenter) {
				if c.Active {
					t.Error("still active")
				}
			}},
		{name: "clearing a required field is rejected and leaves the entity as it was", paths: []string{FieldDisplayName, FieldOwner},
			fields: CostCenterFields{Owner: "bo"}, wantErr: true,
			check: func(t *testing.T, c *CostCenter) {
				if c.Owner != "ana" || c.Version != 1 {
					t.Errorf("entity changed on error: %+v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			changed, err := c.Apply(tt.paths, tt.fields, later)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(changed, tt.wantChanged) {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestCheckAncestry(t *testing.T) {
	c := &CostCenter{ID: "team", ParentID: "dept"}
	if err := c.CheckAncestry([]string{"division"}); err != nil {
		t.Errorf("legal move rejected: %v", err)
	}
	if err := c.CheckAncestry([]string{"x", "team", "division"}); !errors.Is(err, ErrParentCycle) {
		t.Errorf("cycle through a descendant: err = %v", err)
	}
	root := &CostCenter{ID: "team"}
	if err := root.CheckAncestry([]string{"team"}); err != nil {
		t.Errorf("root: %v", err)
	}
}

func TestCostCenterPattern(t *testing.T) {
	for name, want := range map[string]string{"costCenters/abc": "abc", "costCenters/": "", "costCenters/a/b": "", "budgets/abc": "", "": ""} {
		id, ok := CostCenterPattern.Last(name)
		if id != want || ok != (want != "") {
			t.Errorf("CostCenterPattern.Last(%q) = %q, %v", name, id, ok)
		}
	}
}
