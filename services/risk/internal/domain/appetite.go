package domain

import (
	"fmt"
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// CategoryAppetite is the appetite of one category of risk.
type CategoryAppetite struct {
	Category int32 `json:"category"`
	Level    Level `json:"level"`
}

// Appetite is the highest level the organisation accepts, per category of risk. A risk whose
// residual level is above its category's appetite is above appetite.
type Appetite struct {
	Default    Level
	Categories []CategoryAppetite // ordered by category, each once
	Updater    string
	UpdateTime time.Time
	// Version counts the changes of the appetite: 0 for the defaults, never changed.
	Version int64
}

// The client-writable fields of the appetite, by their API names.
const (
	AppetiteFieldDefault    = "default_level"
	AppetiteFieldCategories = "categories"
)

// AppetiteWritableFields lists the fields an update may change.
var AppetiteWritableFields = []string{AppetiteFieldDefault, AppetiteFieldCategories}

// DefaultAppetite is the appetite before its first change: MEDIUM for every category.
func DefaultAppetite() *Appetite { return &Appetite{Default: LevelMedium} }

// For is the appetite of a category.
func (a *Appetite) For(category int32) Level {
	for _, c := range a.Categories {
		if c.Category == category {
			return c.Level
		}
	}
	return a.Default
}

// Above reports whether a risk of the category at the level is above appetite. An unscored risk
// never is.
func (a *Appetite) Above(category int32, level Level) bool {
	return level.Valid() && level > a.For(category)
}

// AppetiteFields are the client-writable fields of the appetite.
type AppetiteFields struct {
	Default    Level
	Categories []CategoryAppetite
}

// Apply sets the fields named in paths to their values in f, by updater at now, and returns the
// fields that changed and the categories whose appetite changed (every category when the
// default changed); nothing when nothing changed.
func (a *Appetite) Apply(paths []string, f AppetiteFields, updater string, now time.Time) (changed []string, categories []int32, err error) {
	next := *a
	for _, p := range paths {
		switch p {
		case AppetiteFieldDefault:
			next.Default = f.Default
			if next.Default == LevelUnscored {
				next.Default = LevelMedium
			}
		case AppetiteFieldCategories:
			next.Categories = slices.Clone(f.Categories)
		}
	}
	var vs fault.Violations
	if !next.Default.Valid() {
		vs.Add(AppetiteFieldDefault, "OUT_OF_RANGE", "default_level is not a level")
	}
	seen := map[int32]bool{}
	for i, c := range next.Categories {
		field := fmt.Sprintf("%s[%d]", AppetiteFieldCategories, i)
		if c.Category < 1 || c.Category > MaxCategory {
			vs.Add(field+".category", "REQUIRED", "category is required")
		} else if seen[c.Category] {
			vs.Add(field+".category", "DUPLICATE", "the category is given twice")
		}
		seen[c.Category] = true
		if !c.Level.Valid() {
			vs.Add(field+".level", "REQUIRED", "level is required")
		}
	}
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(next.Categories, func(x, y CategoryAppetite) int { return int(x.Category - y.Category) })
	for cat := int32(1); cat <= MaxCategory; cat++ {
		if next.For(cat) != a.For(cat) {
			categories = append(categories, cat)
		}
	}
	if next.Default != a.Default {
		changed = append(changed, AppetiteFieldDefault)
	}
	if !slices.Equal(next.Categories, a.Categories) {
		changed = append(changed, AppetiteFieldCategories)
	}
	if len(changed) == 0 {
		return nil, nil, nil
	}
	next.Updater = updater
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	next.Version++
	*a = next
	return changed, categories, nil
}
