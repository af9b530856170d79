package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoregistry"

	// The budget API's descriptors, with their buf.validate rules, in protoregistry.GlobalFiles.
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
)

func run(t *testing.T, in string, files *protoregistry.Files) map[string]any {
	t.Helper()
	out, err := normalize([]byte(in), files)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	again, err := normalize(out, files)
	if err != nil || string(again) != string(out) {
		t.Errorf("a second pass changed the document (%v)", err)
	}
	return doc
}

// at walks a document by keys.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func param(op any, in, name string) map[string]any {
	list, _ := at(op, "parameters").([]any)
	for _, p := range list {
		pm := p.(map[string]any)
		if pm["in"] == in && pm["name"] == name {
			return pm
		}
		if r, _ := pm["$ref"].(string); in == "header" && strings.HasSuffix(r, "/"+strings.ReplaceAll(name, "-", "")) {
			return pm
		}
	}
	return nil
}

func TestNormalizeNamesPathParametersAfterTheirCollectionAsIDs(t *testing.T) {
	doc := run(t, `{"paths":{
		"/v1/costCenters/{name}":{"get":{"summary":"Gets.","parameters":[{"name":"name","in":"path","description":"The name, costCenters/{cost_center}."}],"responses":{}}},
		"/v1/policies/{parent}/rules":{"get":{"summary":"Lists.","parameters":[{"name":"parent","in":"path"}],"responses":{}}},
		"/v1/budgets/{name}:approve":{"post":{"summary":"Approves.","parameters":[{"name":"name","in":"path"}],"responses":{}}}}}`, nil)
	p := param(at(doc, "paths", "/v1/costCenters/{costCenter}", "get"), "path", "costCenter")
	if p == nil {
		t.Fatalf("paths = %v", at(doc, "paths"))
	}
	if d, _ := p["description"].(string); !strings.Contains(d, "ID") || !strings.Contains(d, "`costCenters/{costCenter}`") {
		t.Errorf("description = %q", d)
	}
	if at(p, "schema", "pattern") != "^[^/]+$" {
		t.Errorf("schema = %v: a name's slash would be a 404", p["schema"])
	}
	if param(at(doc, "paths", "/v1/policies/{policy}/rules", "get"), "path", "policy") == nil {
		t.Errorf("paths = %v", at(doc, "paths"))
	}
	if param(at(doc, "paths", "/v1/budgets/{budget}:approve", "post"), "path", "budget") == nil {
		t.Errorf("paths = %v", at(doc, "paths"))
	}
}

func TestNormalizeGivesEveryOperationADescriptionAndASummary(t *testing.T) {
	doc := run(t, `{"paths":{"/v1/a":{"get":{"summary":"Returns the a, e.g. the first\none. Publishes nothing.","responses":{}}}}}`, nil)
	op := at(doc, "paths", "/v1/a", "get")
	if at(op, "summary") != "Returns the a, e.g. the first one" || at(op, "description") != "Returns the a, e.g. the first\none. Publishes nothing." {
		t.Errorf("summary %q, description %q", at(op, "summary"), at(op, "description"))
	}
	_, err := normalize([]byte(`{"paths":{"/v1/a":{"get":{"operationId":"S_A","responses":{}}}}}`), nil)
	if err == nil || !strings.Contains(err.Error(), "S_A") {
		t.Errorf("an operation without a comment: err = %v", err)
	}
}

func TestNormalizeDeclaresTypedErrorResponses(t *testing.T) {
	doc := run(t, `{"paths":{
		"/v1/costCenters":{"post":{"summary":"Creates.","responses":{"200":{}}}},
		"/v1/costCenters/{name}":{"get":{"summary":"Gets.","parameters":[{"name":"name","in":"path"}],"responses":{"200":{}}}}}}`, nil)
	codes := func(op any) []string {
		var cs []string
		for c := range at(op, "responses").(map[string]any) {
			cs = append(cs, c)
		}
		slices.Sort(cs)
		return cs
	}
	if got := codes(at(doc, "paths", "/v1/costCenters", "post")); !slices.Equal(got, []string{"200", "400", "401", "403", "409", "429", "default"}) {
		t.Errorf("create responses = %v", got)
	}
	if got := codes(at(doc, "paths", "/v1/costCenters/{costCenter}", "get")); !slices.Equal(got, []string{"200", "400", "401", "403", "404", "429", "default"}) {
		t.Errorf("get responses = %v", got)
	}
	if r := at(doc, "components", "responses", "BadRequest", "content", "application/json", "schema", "$ref"); r != "#/components/schemas/google.rpc.Status" {
		t.Errorf("400 schema = %v", r)
	}
	items := at(doc, "components", "schemas", "google.rpc.Status", "properties", "details", "items")
	if n := len(at(items, "oneOf").([]any)); n != 4 || at(items, "discriminator", "propertyName") != "@type" {
		t.Errorf("details = %v", items)
	}
	br := at(doc, "components", "schemas", "google.rpc.BadRequest")
	if at(br, "properties", "@type", "const") != "type.googleapis.com/google.rpc.BadRequest" ||
		at(br, "properties", "fieldViolations", "items", "$ref") != "#/components/schemas/google.rpc.BadRequest.FieldViolation" {
		t.Errorf("BadRequest = %v", br)
	}
}

func TestNormalizeAddsTheProtosRulesAndHeaders(t *testing.T) {
	doc := run(t, `{"components":{"schemas":{
		"quarterdeck.budget.v1.CostCenter":{"type":"object","required":["displayName","code"],"properties":{
			"code":{"type":"string"},"displayName":{"type":"string"},"parent":{"type":"string"},"etag":{"type":"string"}}},
		"quarterdeck.budget.v1.BudgetLine":{"type":"object","required":["category"],"properties":{
			"category":{"$ref":"#/components/schemas/quarterdeck.budget.v1.BudgetLine.Category"},
			"phasing":{"$ref":"#/components/schemas/quarterdeck.budget.v1.Phasing"},
			"thresholdPercents":{"type":"array","items":{"type":"integer","format":"int32"}}}},
		"quarterdeck.budget.v1.BudgetLine.Category":{"type":"string","enum":["CATEGORY_UNSPECIFIED","HARDWARE","OTHER"]},
		"quarterdeck.budget.v1.Phasing":{"type":"object","properties":{"granularity":{"$ref":"#/components/schemas/quarterdeck.budget.v1.Phasing.Granularity"}}},
		"quarterdeck.budget.v1.Phasing.Granularity":{"type":"string","enum":["GRANULARITY_UNSPECIFIED","MONTHLY","QUARTERLY"]}}},
	"paths":{
		"/v1/costCenters":{
			"post":{"operationId":"BudgetService_CreateCostCenter","summary":"Creates.","parameters":[
				{"name":"costCenterId","in":"query","schema":{"type":"string"}},{"name":"requestId","in":"query","schema":{"type":"string"}}],
				"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/quarterdeck.budget.v1.CostCenter"}}}},
				"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/quarterdeck.budget.v1.BudgetLine"}}}}}},
			"get":{"operationId":"BudgetService_ListCostCenters","summary":"Lists.","parameters":[
				{"name":"pageSize","in":"query","schema":{"type":"integer","format":"int32"}}],"responses":{}}},
		"/v1/costCenters/{name}":{"patch":{"operationId":"BudgetService_UpdateCostCenter","summary":"Updates.","parameters":[
				{"name":"name","in":"path"}],"responses":{}}}}}`, protoregistry.GlobalFiles)
	cc := at(doc, "components", "schemas", "quarterdeck.budget.v1.CostCenter", "properties")
	if at(cc, "code", "pattern") != "^[A-Z0-9][A-Z0-9._-]{0,31}$" || at(cc, "displayName", "maxLength") != 200.0 {
		t.Errorf("cost centre = %v", cc)
	}
	if at(cc, "parent", "pattern") != "^$|(?:^costCenters/[a-z0-9][a-z0-9-]{0,62}$)" {
		t.Errorf("parent = %v: empty (a root) must pass, as the service ignores an empty parent", at(cc, "parent"))
	}
	line := at(doc, "components", "schemas", "quarterdeck.budget.v1.BudgetLine", "properties")
	if e, _ := at(line, "category", "enum").([]any); slices.Contains(e, "CATEGORY_UNSPECIFIED") || !slices.Contains(e, "HARDWARE") {
		t.Errorf("category = %v, want no CATEGORY_UNSPECIFIED", at(line, "category"))
	}
	if at(line, "thresholdPercents", "items", "minimum") != 1.0 || at(line, "thresholdPercents", "items", "maximum") != 1000.0 {
		t.Errorf("thresholdPercents = %v", at(line, "thresholdPercents"))
	}
	phasing := at(doc, "components", "schemas", "quarterdeck.budget.v1.Phasing")
	if e, _ := at(phasing, "properties", "granularity", "enum").([]any); slices.Contains(e, "GRANULARITY_UNSPECIFIED") ||
		!slices.Contains(stringSet(at(phasing, "required")), "granularity") {
		t.Errorf("phasing = %v: granularity refuses 0 (not_in), so it is required and has no UNSPECIFIED", phasing)
	}
	if at(doc, "components", "schemas", "quarterdeck.budget.v1.BudgetLine.Category") != nil {
		t.Errorf("the enum's schema is left unused")
	}
	create := at(doc, "paths", "/v1/costCenters", "post")
	if at(param(create, "query", "costCenterId"), "schema", "pattern") == nil || at(param(create, "query", "requestId"), "schema", "format") != "uuid" {
		t.Errorf("create parameters = %v", at(create, "parameters"))
	}
	list := at(doc, "paths", "/v1/costCenters", "get")
	if at(param(list, "query", "pageSize"), "schema", "minimum") != 0.0 {
		t.Errorf("list parameters = %v", at(list, "parameters"))
	}
	update := at(doc, "paths", "/v1/costCenters/{costCenter}", "patch")
	for _, c := range []struct {
		op     any
		header string
		want   bool
	}{{create, "Idempotency-Key", true}, {create, "If-Match", false}, {update, "If-Match", true},
		{update, "Idempotency-Key", false}, {list, "Idempotency-Key", false}, {list, "If-Match", false}} {
		if got := param(c.op, "header", c.header) != nil; got != c.want {
			t.Errorf("%v: %s declared %v, want %v", at(c.op, "operationId"), c.header, got, c.want)
		}
	}
	if at(doc, "components", "parameters", "IdempotencyKey", "name") != "Idempotency-Key" {
		t.Errorf("parameters = %v", at(doc, "components", "parameters"))
	}
}
