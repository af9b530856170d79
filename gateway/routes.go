package gateway

import (
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// A REST call is matched against the patterns of one domain, not of all of them.
//
// grpc-gateway's mux tries the patterns of a method one after the other until one matches, and
// each attempt allocates; with every domain's API on one mux, a GET of a cost centre tried over a
// hundred patterns of the other domains first. The first segment of every path under /v1/ names
// a collection (`/v1/{name=costCenters/*}`, `/v1/costCenters:search`), and each collection
// belongs to one domain, so a call goes straight to a mux holding only that domain's patterns.
// A collection whose paths more than one API declares (the operations API's, say), and every
// path the table does not know, go to the mux of every pattern, as before: the answer is the same
// either way, only found sooner.

// router dispatches REST calls by their collection.
type router struct {
	all   *runtime.ServeMux            // every pattern of every API
	byCol map[string]*runtime.ServeMux // collection → the mux of the one domain that serves it
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mux(r.URL.Path).ServeHTTP(w, r)
}

func (rt *router) mux(path string) *runtime.ServeMux {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return rt.all
	}
	seg, _, _ := strings.Cut(rest, "/")
	seg, _, _ = strings.Cut(seg, ":")
	if m, ok := rt.byCol[seg]; ok {
		return m
	}
	return rt.all
}

// collections returns, for each collection of a REST path under /v1/, the proto packages whose
// services declare paths in it, e.g. "costCenters" → ["quarterdeck.budget.v1"]. ok is false when
// some path starts with a variable that is not bound to a collection (`/v1/{name}`), which could
// match any collection: then no call may be routed by its collection.
func collections(files *protoregistry.Files) (cols map[string]map[string]struct{}, ok bool) {
	cols = map[string]map[string]struct{}{}
	ok = true
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "quarterdeck.") {
			return true
		}
		for i := range fd.Services().Len() {
			ms := fd.Services().Get(i).Methods()
			for j := range ms.Len() {
				rule, _ := proto.GetExtension(ms.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule == nil {
					continue
				}
				for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					col, known := collectionOf(httpPath(b))
					if !known {
						ok = false
						continue
					}
					if col == "" {
						continue
					}
					if cols[col] == nil {
						cols[col] = map[string]struct{}{}
					}
					cols[col][string(fd.Package())] = struct{}{}
				}
			}
		}
		return true
	})
	return cols, ok
}

func httpPath(b *annotations.HttpRule) string {
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return p.Get
	case *annotations.HttpRule_Put:
		return p.Put
	case *annotations.HttpRule_Post:
		return p.Post
	case *annotations.HttpRule_Delete:
		return p.Delete
	case *annotations.HttpRule_Patch:
		return p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetPath()
	}
	return ""
}

// collectionOf returns the collection a path template starts with under /v1/: its first literal
// segment, or the first segment of its first variable's pattern. col is "" for a path outside
// /v1/ (not routed here); known is false for a first segment that could be anything.
func collectionOf(tmpl string) (col string, known bool) {
	rest, ok := strings.CutPrefix(tmpl, "/v1/")
	if !ok {
		return "", true
	}
	if v, ok := strings.CutPrefix(rest, "{"); ok {
		_, pattern, bound := strings.Cut(v, "=")
		if !bound {
			return "", false
		}
		rest = pattern
	}
	seg, _, _ := strings.Cut(rest, "/")
	seg, _, _ = strings.Cut(seg, ":")
	seg, _, _ = strings.Cut(seg, "}")
	if seg == "" || strings.ContainsAny(seg, "*{") {
		return "", false
	}
	return seg, true
}

// newRouter routes each collection that exactly one of the domains' packages declares to that
// domain's mux. domainMux maps a proto package (`quarterdeck.budget.v1`) to its domain's mux.
func newRouter(all *runtime.ServeMux, domainMux map[string]*runtime.ServeMux) *router {
	rt := &router{all: all, byCol: map[string]*runtime.ServeMux{}}
	cols, ok := collections(protoregistry.GlobalFiles)
	if !ok {
		return rt
	}
	for col, pkgs := range cols {
		if len(pkgs) != 1 {
			continue
		}
		for pkg := range pkgs {
			if m := domainMux[pkg]; m != nil {
				rt.byCol[col] = m
			}
		}
	}
	return rt
}
