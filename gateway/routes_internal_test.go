package gateway

import (
	"maps"
	"slices"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoregistry"
)

func TestCollectionOf(t *testing.T) {
	for _, c := range []struct {
		tmpl  string
		col   string
		known bool
	}{
		{"/v1/costCenters", "costCenters", true},
		{"/v1/costCenters:search", "costCenters", true},
		{"/v1/{name=costCenters/*}", "costCenters", true},
		{"/v1/{parent=budgets/*}/lines", "budgets", true},
		{"/v1/{name=budgets/*/lines/*}:release", "budgets", true},
		{"/v1/{name=briefing}", "briefing", true},
		{"/v1/briefing", "briefing", true},
		{"/healthz", "", true},
		{"/v1/{name}", "", false},
		{"/v1/{name=**}", "", false},
		{"/v1/{name=*/things/*}", "", false},
	} {
		col, known := collectionOf(c.tmpl)
		if col != c.col || known != c.known {
			t.Errorf("collectionOf(%q) = %q, %v; want %q, %v", c.tmpl, col, known, c.col, c.known)
		}
	}
}

// TestEveryDomainIsRouted: every binding of every API the gateway serves names its collection,
// and each domain's collections route to that domain's mux, so no call of a domain's API falls
// back to trying every pattern (which would still answer right, only slower, and go unnoticed).
func TestEveryDomainIsRouted(t *testing.T) {
	cols, ok := collections(protoregistry.GlobalFiles)
	if !ok {
		t.Fatal("some REST path starts with a variable bound to no collection: no call can be routed by its collection")
	}
	all := runtime.NewServeMux()
	domainMux := map[string]*runtime.ServeMux{}
	for _, d := range append(Domains(), slices.Collect(maps.Keys(adminRegistrars))...) {
		domainMux["quarterdeck."+d+".v1"] = runtime.NewServeMux()
	}
	rt := newRouter(all, domainMux)
	routed := map[string]int{}
	for col, pkgs := range cols {
		for pkg := range pkgs {
			m, served := domainMux[pkg]
			if !served {
				continue // the operations API: every service's, on the mux of everything
			}
			got := rt.mux("/v1/" + col + "/x")
			if len(pkgs) > 1 {
				if got != all {
					t.Errorf("%s is declared by %d packages, yet routed to one domain", col, len(pkgs))
				}
				continue
			}
			if got != m {
				t.Errorf("/v1/%s/x is not routed to %s's mux", col, pkg)
			}
			if rt.mux("/v1/"+col+":verb") != m {
				t.Errorf("/v1/%s:verb is not routed to %s's mux", col, pkg)
			}
			routed[pkg]++
		}
	}
	for pkg := range domainMux {
		if routed[pkg] == 0 {
			t.Errorf("no collection of %s is routed to its mux", pkg)
		}
	}
	for _, p := range []string{"/v1/nothingHere/x", "/v1/", "/healthz"} {
		if rt.mux(p) != all {
			t.Errorf("%s is routed to a domain's mux; want the mux of everything", p)
		}
	}
	if got := rt.mux("/v1/costCenters/cc-1"); got != domainMux["quarterdeck.budget.v1"] {
		t.Error("a cost centre is not routed to budget's mux")
	}
}
