// Package catalogue holds the frameworks the risk service can import (ComplianceService's
// ImportFramework): for each, its title, publisher and edition and its requirements, an
// identifier and a short title each. The titles are the service's own wording: the standards'
// texts belong to their publishers and are not reproduced here.
package catalogue

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.json
var files embed.FS

// Framework is a framework as the catalogue ships it.
type Framework struct {
	ID          string
	Title       string `json:"title"`
	Publisher   string `json:"publisher"`
	Edition     string `json:"edition"`
	Description string `json:"description"`
	// Requirements are the framework's requirements in order, each [identifier, title].
	Requirements [][2]string `json:"requirements"`
}

// IDs lists the IDs of the frameworks in the catalogue, sorted: each file's name without .json.
func IDs() []string {
	names, _ := fs.Glob(files, "*.json")
	ids := make([]string, 0, len(names))
	for _, n := range names {
		ids = append(ids, strings.TrimSuffix(n, ".json"))
	}
	slices.Sort(ids)
	return ids
}

// Lookup returns the framework with the ID, and false when the catalogue has none.
func Lookup(id string) (Framework, bool, error) {
	if !slices.Contains(IDs(), id) {
		return Framework{}, false, nil
	}
	b, err := files.ReadFile(id + ".json")
	if err != nil {
		return Framework{}, false, err
	}
	f := Framework{ID: id}
	if err := json.Unmarshal(b, &f); err != nil {
		return Framework{}, false, fmt.Errorf("catalogue framework %s: %w", id, err)
	}
	return f, true, nil
}
