package authz_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	// Every API, so that the catalogue holds all their declarations.
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
)

const (
	securityDoc = "../../../../docs/security.md"
	beginMarker = "<!-- scopes:begin -->\n"
	endMarker   = "<!-- scopes:end -->"
)

// TestEveryMethodDeclaresScopes keeps deny-by-default from becoming a surprise: a method added
// without a policy would be refused to everyone.
func TestEveryMethodDeclaresScopes(t *testing.T) {
	decls, _ := authz.Catalogue(nil, "quarterdeck.")
	methods := 0
	for _, d := range decls {
		if d.Field || d.Ownership {
			continue
		}
		methods++
		if len(d.Scopes) == 0 && !d.Public {
			t.Errorf("%s declares no (quarterdeck.auth.v1.policy)", d.Element)
		}
	}
	if methods < 13 {
		t.Errorf("only %d methods in the catalogue; are the APIs linked?", methods)
	}
}

// TestScopeTableInDocs checks the scope table of docs/security.md against the protos. Run with
// QUARTERDECK_UPDATE_DOCS=1 to rewrite it.
func TestScopeTableInDocs(t *testing.T) {
	raw, err := os.ReadFile(filepath.FromSlash(securityDoc))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin, end := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %q … %q block", securityDoc, beginMarker, endMarker)
	}
	want := doc[:begin+len(beginMarker)] + scopeTable() + doc[end:]
	if want == doc {
		return
	}
	if os.Getenv("QUARTERDECK_UPDATE_DOCS") != "" {
		if err := os.WriteFile(filepath.FromSlash(securityDoc), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the scope table of docs/security.md is out of date; run QUARTERDECK_UPDATE_DOCS=1 go test ./services/platform/runtime/authz/ and commit it:\n%s", scopeTable())
}

// scopeTable renders one row per scope with the methods and fields it guards.
func scopeTable() string {
	decls, scopes := authz.Catalogue(nil, "quarterdeck.")
	guards := map[string][]string{}
	for _, d := range decls {
		name := "`" + strings.TrimPrefix(d.Element, "quarterdeck.") + "`"
		if d.Ownership {
			guards[d.Scopes[0]] = append(guards[d.Scopes[0]], name+" (writes of resources others own)")
			continue
		}
		if !d.Field {
			for _, s := range d.Scopes {
				guards[s] = append(guards[s], name)
			}
			if d.Public {
				guards["(public)"] = append(guards["(public)"], name)
			}
			continue
		}
		if r := d.Scopes[0]; r != "" {
			guards[r] = append(guards[r], name+" (read)")
		}
		if w := d.Scopes[1]; w != "" {
			guards[w] = append(guards[w], name+" (write)")
		}
	}
	if len(guards["(public)"]) > 0 {
		scopes = append(scopes, "(public)")
	}
	var b strings.Builder
	b.WriteString("| scope | guards |\n| --- | --- |\n")
	for _, s := range scopes {
		g := guards[s]
		slices.Sort(g)
		label := "`" + s + "`"
		if s == "(public)" {
			label = "public (any caller)"
		}
		b.WriteString("| " + label + " | " + strings.Join(g, ", ") + " |\n")
	}
	return b.String()
}
