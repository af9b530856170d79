package gateway_test

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// The served OpenAPI document is followed as a client generated from it would: its paths with IDs
// in their parameters reach the services, and its error responses describe the errors they answer.

type document struct {
	body map[string]any
}

// operation returns the path and the operation object of an operationId.
func (d document) operation(t *testing.T, id string) (string, string, map[string]any) {
	t.Helper()
	for path, item := range d.body["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok && o["operationId"] == id {
				return strings.ToUpper(method), path, o
			}
		}
	}
	t.Fatalf("no operation %s in the document", id)
	return "", "", nil
}

// ref resolves a local reference of the document.
func (d document) ref(v any) map[string]any {
	m, _ := v.(map[string]any)
	r, ok := m["$ref"].(string)
	if !ok {
		return m
	}
	var cur any = d.body
	for _, seg := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
		cur = cur.(map[string]any)[seg]
	}
	return cur.(map[string]any)
}

var pathParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// fill puts values in a path template's parameters; a parameter without one gets `x`.
func fill(template string, values map[string]string) string {
	return pathParam.ReplaceAllStringFunc(template, func(p string) string {
		if v, ok := values[strings.Trim(p, "{}")]; ok {
			return url.PathEscape(v)
		}
		return "x"
	})
}

func TestTheDocumentsPathsAreTheGatewaysRoutes(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	doc := document{call(t, "GET", p.url+"/openapi.json", "").body}
	if servers, _ := doc.body["servers"].([]any); len(servers) != 1 || servers[0].(map[string]any)["url"] != "/" {
		t.Errorf("servers = %v, want the relative /", doc.body["servers"])
	}

	// Every operation of a domain the gateway routes, with an ID in each path parameter, reaches a
	// service: whatever the service answers (its NOT_FOUND, or UNIMPLEMENTED from the budget
	// service standing in for the others), it is not the gateway's "no such route".
	served := map[string]bool{"operations": true} // OperationsService: routed by the gateway itself
	for _, d := range gateway.Domains() {
		served[d] = true
	}
	n := 0
	for path, item := range doc.body["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok {
				continue
			}
			tags, _ := o["tags"].([]any)
			if len(tags) != 1 {
				t.Errorf("%s %s: tags %v, want its service", method, path, tags)
				continue
			}
			if domain := strings.ToLower(strings.TrimSuffix(tags[0].(string), "Service")); !served[domain] {
				continue // not routed by this gateway's options (the API keys' admin API) or not yet
			}
			n++
			u := p.url + fill(path, map[string]string{"service": "budget"})
			body := ""
			if method != "get" && method != "delete" {
				body = "{}"
			}
			r := call(t, strings.ToUpper(method), u, body)
			if info := errorInfo(r.body); (r.code == 404 || r.code == 405) && info["domain"] == "gateway.quarterdeck.io" {
				t.Errorf("%s %s (from %s): %d %v, the gateway has no such route", strings.ToUpper(method), u, path, r.code, r.body)
			}
		}
	}
	t.Logf("%d operations followed", n)
	if n < 80 {
		t.Errorf("only %d operations in the document", n)
	}
}

func errorInfo(body map[string]any) map[string]any {
	ds, _ := body["details"].([]any)
	for _, d := range ds {
		if m, ok := d.(map[string]any); ok && m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			return m
		}
	}
	return nil
}

func TestTheDocumentDescribesTheAnswers(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	doc := document{call(t, "GET", p.url+"/openapi.json", "").body}

	// Create as the document says: the ID in the query, the Idempotency-Key header declared.
	method, path, create := doc.operation(t, "BudgetService_CreateCostCenter")
	if !hasParam(doc, create, "header", "Idempotency-Key") || !hasParam(doc, create, "query", "costCenterId") {
		t.Errorf("create parameters = %v", create["parameters"])
	}
	r := call(t, method, p.url+path+"?costCenterId=ops", `{"displayName":"Operations","code":"CC-OPS"}`)
	if r.code != 200 || r.body["name"] != "costCenters/ops" {
		t.Fatalf("create = %d %v", r.code, r.body)
	}

	// Read it back through the get's template, with the ID (not the name) in the parameter.
	method, path, get := doc.operation(t, "BudgetService_GetCostCenter")
	params := pathParam.FindAllStringSubmatch(path, -1)
	if len(params) != 1 {
		t.Fatalf("get path %s", path)
	}
	if r := call(t, method, p.url+fill(path, map[string]string{params[0][1]: "ops"}), ""); r.code != 200 || r.body["code"] != "CC-OPS" {
		t.Errorf("get by the document's template = %d %v", r.code, r.body)
	}
	// The parameter is described as the ID: a pattern a resource name (the old reading, a 404)
	// does not match.
	for _, ps := range get["parameters"].([]any) {
		pm := doc.ref(ps)
		if pm["in"] != "path" {
			continue
		}
		pattern, _ := pm["schema"].(map[string]any)["pattern"].(string)
		re, err := regexp.Compile(pattern)
		if err != nil || pattern == "" || re.MatchString("costCenters/ops") || !re.MatchString("ops") {
			t.Errorf("path parameter %v: its pattern should take the ID, not the name", pm)
		}
		if d, _ := pm["description"].(string); !strings.Contains(d, "ID") {
			t.Errorf("path parameter %v: its description should say it is the ID", pm)
		}
	}
	if hasParam(doc, get, "header", "Idempotency-Key") || hasParam(doc, get, "header", "If-Match") {
		t.Errorf("a get declares the write headers: %v", get["parameters"])
	}
	_, _, update := doc.operation(t, "BudgetService_UpdateCostCenter")
	if !hasParam(doc, update, "header", "If-Match") {
		t.Errorf("the update does not declare If-Match: %v", update["parameters"])
	}

	// The errors are the operation's declared responses, and their details are the document's.
	cases := []struct {
		method, path, body string
		op                 map[string]any
		code               int
	}{
		{method, fill(path, map[string]string{params[0][1]: "nope"}), "", get, 404},
		{"POST", "/v1/costCenters?costCenterId=Bad_Id", `{"code":"lower"}`, create, 400},
		{"POST", "/v1/costCenters?costCenterId=ops", `{"displayName":"Again","code":"CC-OPS2"}`, create, 409},
	}
	for _, c := range cases {
		r := call(t, c.method, p.url+c.path, c.body)
		if r.code != c.code {
			t.Errorf("%s %s = %d %v, want %d", c.method, c.path, r.code, r.body, c.code)
			continue
		}
		declared := c.op["responses"].(map[string]any)[strconv.Itoa(c.code)]
		if declared == nil {
			t.Errorf("%s %s: %d is not a declared response", c.method, c.path, c.code)
			continue
		}
		schema := doc.ref(doc.ref(declared)["content"].(map[string]any)["application/json"].(map[string]any)["schema"])
		checkObject(t, doc, schema, r.body, "error")
	}
	if r := call(t, "POST", p.url+"/v1/costCenters?costCenterId=Bad_Id", `{"code":"lower"}`); len(violations(r.body)) < 3 {
		t.Errorf("want the violations of the ID, the code and the display name: %v", r.body)
	}
}

func violations(body map[string]any) []any {
	for _, d := range body["details"].([]any) {
		if m := d.(map[string]any); m["@type"] == "type.googleapis.com/google.rpc.BadRequest" {
			fv, _ := m["fieldViolations"].([]any)
			return fv
		}
	}
	return nil
}

// checkObject checks a JSON value against the parts of a schema a typed client relies on: required
// properties are present, a property is one the schema declares, a constant "@type" selects the
// member of a oneOf.
func checkObject(t *testing.T, doc document, schema map[string]any, v any, at string) {
	t.Helper()
	if members, ok := schema["oneOf"].([]any); ok {
		m, _ := v.(map[string]any)
		for _, member := range members {
			s := doc.ref(member)
			if s["properties"].(map[string]any)["@type"].(map[string]any)["const"] == m["@type"] {
				checkObject(t, doc, s, v, at)
				return
			}
		}
		t.Errorf("%s: no member of the document's oneOf for %v", at, m["@type"])
		return
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %v is not an object", at, v)
			return
		}
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := m[r.(string)]; !ok {
				t.Errorf("%s: required %s missing from %v", at, r, m)
			}
		}
		for k, x := range m {
			s, ok := props[k]
			if !ok {
				if schema["additionalProperties"] == nil {
					t.Errorf("%s: %s is not in the document's schema", at, k)
				}
				continue
			}
			checkObject(t, doc, doc.ref(s), x, at+"."+k)
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %v is not an array", at, v)
			return
		}
		for _, x := range list {
			checkObject(t, doc, doc.ref(schema["items"]), x, at+"[]")
		}
	}
}

func hasParam(doc document, op map[string]any, in, name string) bool {
	ps, _ := op["parameters"].([]any)
	return slices.ContainsFunc(ps, func(p any) bool {
		pm := doc.ref(p)
		return pm["in"] == in && pm["name"] == name
	})
}
