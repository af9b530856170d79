// Command normalize post-processes the merged OpenAPI document of `make generate`.
//
// protoc-gen-openapiv3 names a path parameter after the proto field it binds, so the update of
// a resource (`PATCH /v1/{cost_center.name=costCenters/*}`) and its get (`GET
// /v1/{name=costCenters/*}`) become two path items for one URL, `/v1/costCenters/{name}` and
// `/v1/costCenters/{cost_center.name}`. OpenAPI forbids that and client generators choke on it.
// normalize renames every dotted path parameter to its last segment and merges the path items that
// then coincide.
//
// It also declares how the API is authenticated: one bearer scheme (an API key or an OIDC JWT in
// `Authorization: Bearer …`), applied to every operation. The protos have no per-file place that
// openapiv3-merge would combine into one scheme, and no operation of the REST API is public, so
// the declaration lives here rather than repeated in each proto.
//
// With -descriptors, the API's descriptors (`buf build -o`), it adds what the protos say and the
// generator leaves out: the protovalidate rules as schema keywords and the edge headers each method
// honours (protos.go). It also names path parameters as the IDs they take and gives every
// operation a description (operations.go), and declares the typed error responses (errors.go).
//
// It reads the document on stdin and writes it to stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"google.golang.org/protobuf/reflect/protoregistry"
)

func main() {
	descriptors := flag.String("descriptors", "", "the API's descriptors, a FileDescriptorSet with imports (`buf build -o`)")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	var files *protoregistry.Files
	if err == nil && *descriptors != "" {
		files, err = loadDescriptors(*descriptors)
	}
	if err == nil {
		var out []byte
		if out, err = normalize(in, files); err == nil {
			_, err = os.Stdout.Write(out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "normalize:", err)
		os.Exit(1)
	}
}

var dottedParam = regexp.MustCompile(`\{([A-Za-z0-9_]+\.)+([A-Za-z0-9_]+)\}`)

// normalize post-processes the document in. With files, the API's descriptors, it also adds what
// the protos say and protoc-gen-openapiv3 leaves out (schema rules, edge headers).
func normalize(in []byte, files *protoregistry.Files) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(in, &doc); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	out := make(map[string]any, len(paths))
	for path, item := range paths {
		renamed := dottedParam.ReplaceAllString(path, "{$2}")
		ops, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("path %s is not an object", path)
		}
		if renamed != path {
			renameParams(ops)
		}
		renamed = nameSplitParams(renamed, ops)
		renamed = nameIDParams(renamed, ops)
		existing, ok := out[renamed].(map[string]any)
		if !ok {
			out[renamed] = ops
			continue
		}
		for method, op := range ops {
			if _, dup := existing[method]; dup {
				return nil, fmt.Errorf("%s %s is defined twice", strings.ToUpper(method), renamed)
			}
			existing[method] = op
		}
	}
	doc["paths"] = out
	if err := addSecurity(doc); err != nil {
		return nil, err
	}
	if err := describeOperations(doc); err != nil {
		return nil, err
	}
	if err := addErrors(doc); err != nil {
		return nil, err
	}
	if files != nil {
		if err := applyProtos(doc, files); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// renameParams gives the path parameters of every operation in a path item their last segment as
// name, matching the renamed URL template.
func renameParams(ops map[string]any) {
	for _, op := range ops {
		o, ok := op.(map[string]any)
		if !ok {
			continue
		}
		params, _ := o["parameters"].([]any)
		for _, p := range params {
			pm, ok := p.(map[string]any)
			if !ok || pm["in"] != "path" {
				continue
			}
			if name, ok := pm["name"].(string); ok {
				pm["name"] = name[strings.LastIndex(name, ".")+1:]
			}
		}
	}
}

// SecurityScheme is the name of the bearer security scheme in components.securitySchemes.
const SecurityScheme = "bearer"

// addSecurity declares the bearer scheme and requires it for every operation.
func addSecurity(doc map[string]any) error {
	comps, ok := doc["components"].(map[string]any)
	if !ok {
		if doc["components"] != nil {
			return fmt.Errorf("components is not an object")
		}
		comps = map[string]any{}
		doc["components"] = comps
	}
	schemes, ok := comps["securitySchemes"].(map[string]any)
	if !ok {
		schemes = map[string]any{}
		comps["securitySchemes"] = schemes
	}
	schemes[SecurityScheme] = map[string]any{
		"type":   "http",
		"scheme": "bearer",
		"description": "An API key (created through the admin API) or an OpenID Connect access token (JWT) " +
			"from the configured issuer, as `Authorization: Bearer <key or token>`. A missing or invalid " +
			"credential is 401 (UNAUTHENTICATED); a valid one without the method's scope is 403 (PERMISSION_DENIED).",
	}
	doc["security"] = []any{map[string]any{SecurityScheme: []any{}}}
	return nil
}

// splitParam matches a parameter the generator numbered because its field's template has more
// than one wildcard: {name_1}, {name_2}, …
var splitParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)_[0-9]+\}`)

// nameSplitParams renames the parameters of a field split over several wildcards
// (`/v1/budgets/{name}/lines/{name_1}`) after the collection each wildcard follows
// (`/v1/budgets/{budget}/lines/{line}`), in path and in each operation of ops, and returns the new
// path. The URL is the same; the names say what each segment is, and the paths of different
// resources stay distinct, as OpenAPI requires (folding them into one `{name}` would make
// `/v1/{name}` of every nested resource the same path).
func nameSplitParams(path string, ops map[string]any) string {
	m := splitParam.FindStringSubmatch(path)
	if m == nil {
		return path
	}
	field := m[1]
	segs := strings.Split(path, "/")
	renames := map[string]string{}
	for i, seg := range segs {
		param, verb, _ := strings.Cut(seg, ":")
		if !strings.HasPrefix(param, "{") {
			continue
		}
		name := strings.Trim(param, "{}")
		if name != field && !(splitParam.MatchString(param) && splitParam.FindStringSubmatch(param)[1] == field) {
			continue
		}
		if i == 0 || strings.Contains(segs[i-1], "{") {
			continue // no collection before it: leave the generator's name
		}
		to := strings.TrimSuffix(segs[i-1], "s")
		renames[name] = to
		if verb != "" {
			verb = ":" + verb
		}
		segs[i] = "{" + to + "}" + verb
	}
	renameOpParams(ops, renames)
	return strings.Join(segs, "/")
}

// renameOpParams renames path parameters in every operation of ops.
func renameOpParams(ops map[string]any, renames map[string]string) {
	for _, op := range ops {
		o, ok := op.(map[string]any)
		if !ok {
			continue
		}
		params, _ := o["parameters"].([]any)
		for _, p := range params {
			pm, ok := p.(map[string]any)
			if !ok || pm["in"] != "path" {
				continue
			}
			if to, ok := renames[pm["name"].(string)]; ok {
				pm["name"] = to
			}
		}
	}
}
