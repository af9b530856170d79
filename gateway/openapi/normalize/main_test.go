package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalizeMergesPathsThatDifferOnlyInParameterNames(t *testing.T) {
	in := `{"openapi":"3.1.0","paths":{
		"/v1/costCenters/{name}":{"get":{"summary":"Gets.","operationId":"Get","parameters":[{"name":"name","in":"path"}]}},
		"/v1/costCenters/{cost_center.name}":{"patch":{"summary":"Updates.","operationId":"Update","parameters":[{"name":"cost_center.name","in":"path"},{"name":"updateMask","in":"query"}]}}}}`
	out, err := normalize([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct{ Name, In string }
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	item, ok := doc.Paths["/v1/costCenters/{costCenter}"]
	if len(doc.Paths) != 1 || !ok || item["get"].OperationID != "Get" || item["patch"].OperationID != "Update" {
		t.Fatalf("paths = %s", out)
	}
	if p := item["patch"].Parameters; p[0].Name != "costCenter" || p[1].Name != "updateMask" {
		t.Errorf("patch parameters = %+v", p)
	}
}

func TestNormalizeRefusesAMethodDefinedTwice(t *testing.T) {
	in := `{"paths":{"/v1/a/{name}":{"get":{}},"/v1/a/{x.name}":{"get":{}}}}`
	if _, err := normalize([]byte(in), nil); err == nil || !strings.Contains(err.Error(), "GET /v1/a/{a}") {
		t.Errorf("err = %v", err)
	}
}

func TestNormalizeIsStable(t *testing.T) {
	in := `{"paths":{"/v1/b":{"get":{"summary":"B.","responses":{}}},"/v1/a":{"post":{"summary":"A.","responses":{}}}},"openapi":"3.1.0"}`
	a, err := normalize([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := normalize(a, nil)
	if err != nil || string(a) != string(b) {
		t.Errorf("second pass changed the document:\n%s\n%s", a, b)
	}
}

func TestNormalizeDeclaresBearerSecurity(t *testing.T) {
	out, err := normalize([]byte(`{"openapi":"3.1.0","components":{"schemas":{"A":{}}},"paths":{}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Security   []map[string][]string `json:"security"`
		Components struct {
			Schemas         map[string]any `json:"schemas"`
			SecuritySchemes map[string]struct{ Type, Scheme string }
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.SecuritySchemes[SecurityScheme]
	if s.Type != "http" || s.Scheme != "bearer" || doc.Components.Schemas["A"] == nil {
		t.Errorf("components = %+v", doc.Components)
	}
	if len(doc.Security) != 1 || doc.Security[0][SecurityScheme] == nil {
		t.Errorf("security = %v", doc.Security)
	}
}

func TestNormalizeNamesTheWildcardsOfANameAfterTheirCollections(t *testing.T) {
	in := `{"paths":{
		"/v1/services/{name}/deadLetters/{name_1}:replay":{"post":{"summary":"Replays.","parameters":[
			{"name":"name","in":"path","schema":{"type":"string"}},
			{"name":"name_1","in":"path","schema":{"type":"string"}},
			{"name":"name_2","in":"query"}]}},
		"/v1/services/{parent}/deadLetters":{"get":{"summary":"Gets.","parameters":[{"name":"parent","in":"path"}]}},
		"/v1/budgets/{name}/lines/{name_1}":{"get":{"summary":"Gets.","parameters":[
			{"name":"name","in":"path"},{"name":"name_1","in":"path"}]}},
		"/v1/budgets/{budget_line.name}/lines/{budget_line.name_1}":{"patch":{"summary":"Updates.","parameters":[
			{"name":"budget_line.name","in":"path"},{"name":"budget_line.name_1","in":"path"}]}},
		"/v1/budgets/{name}/transfers/{name_1}":{"get":{"summary":"Gets.","parameters":[
			{"name":"name","in":"path"},{"name":"name_1","in":"path"}]}}}}`
	out, err := normalize([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths) != 4 {
		t.Fatalf("want 4 paths, got %s", out)
	}
	replay, ok := doc.Paths["/v1/services/{service}/deadLetters/{deadLetter}:replay"]
	if !ok {
		t.Fatalf("paths = %s", out)
	}
	if p := replay["post"].Parameters; len(p) != 3 || p[0].Name != "service" || p[1].Name != "deadLetter" || p[2].Name != "name_2" {
		t.Errorf("replay parameters = %+v", p)
	}
	if _, ok := doc.Paths["/v1/services/{service}/deadLetters"]; !ok {
		t.Errorf("a parent parameter is not named after its collection: %s", out)
	}
	line := doc.Paths["/v1/budgets/{budget}/lines/{line}"]
	if line["get"].Parameters == nil || line["patch"].Parameters == nil {
		t.Fatalf("get and update of a line should share one path: %s", out)
	}
	if p := line["patch"].Parameters; p[0].Name != "budget" || p[1].Name != "line" {
		t.Errorf("patch parameters = %+v", p)
	}
	if _, ok := doc.Paths["/v1/budgets/{budget}/transfers/{transfer}"]; !ok {
		t.Errorf("paths = %s", out)
	}
}
