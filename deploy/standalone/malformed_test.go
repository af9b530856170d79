package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMalformedRequests sends every REST operation of the API reference, as the running
// platform serves it (/openapi.json), requests that a careless or hostile client could send, and
// requires answers that are the client's fault: 4xx, never a 5xx. Bad input gets a clear error.
//
//   - each path variable and each string query parameter percent-encoding bytes that are not
//     UTF-8: 400 with an INVALID_UTF8 violation (on the parameter's field, for a query
//     parameter);
//   - each query parameter of another type given text that is not UTF-8 either: 400;
//   - each header parameter (If-Match, Idempotency-Key) with a byte that is not ASCII: 400
//     HEADER_NOT_ASCII, not a call that goes on without its condition or its key;
//   - a body that is not JSON, or JSON of the wrong shape: 400;
//   - each field of a body given a value of the wrong JSON type: 4xx.
//
// It runs the standalone set-up, whose gateway calls its services in the process (rpc.Local);
// the gateway's tests cover the same refusals over the network.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{prefix: "quarterdeck",
		args: []string{"--gateway-rate-limit-per-key", "0", "--gateway-rate-limit-per-ip", "0"}})
	defer p.Stop()

	var doc apiDocument
	getJSON(t, p.rest+"/openapi.json", &doc)
	var operations, requests int
	send := func(method, path, body string, header ...string) (int, map[string]any) {
		t.Helper()
		requests++
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, p.rest+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s %s %.80s = %d %s; want the client's fault (4xx)", method, path, body, resp.StatusCode, raw)
		}
		return resp.StatusCode, out
	}
	variable := regexp.MustCompile(`\{[^}]+\}`)

	for _, path := range slices.Sorted(maps.Keys(doc.Paths)) {
		for method, op := range doc.Paths[path] {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PATCH", "PUT", "DELETE"}, method) {
				continue
			}
			operations++
			body := ""
			if op.RequestBody != nil {
				body = "{}"
			}
			// Every variable a name of no resource, but one that could be.
			plain := variable.ReplaceAllString(path, "zz-missing")

			// Path variables, one at a time.
			vars := variable.FindAllStringIndex(path, -1)
			for i := range vars {
				bad := ""
				last := 0
				for j, v := range vars {
					value := "zz-missing"
					if j == i {
						value = "caf%E9"
					}
					bad += path[last:v[0]] + value
					last = v[1]
				}
				bad += path[last:]
				if code, out := send(method, bad, body); code != http.StatusBadRequest || !slices.ContainsFunc(violations(out), func(v string) bool {
					return strings.HasSuffix(v, ":INVALID_UTF8")
				}) {
					t.Errorf("%s %s = %d %v; want 400 with an INVALID_UTF8 violation", method, bad, code, out)
				}
			}

			// Query parameters, and the headers a service acts on.
			for _, prm := range op.Parameters {
				prm = doc.parameter(prm)
				if prm.In == "header" {
					code, out := send(method, plain, body, prm.Name, "\"caf\xe9\"")
					if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["details"]), "HEADER_NOT_ASCII") {
						t.Errorf("%s %s with %s not ASCII = %d %v; want 400 HEADER_NOT_ASCII", method, plain, prm.Name, code, out)
					}
					continue
				}
				if prm.In != "query" {
					continue
				}
				bad := plain + "?" + prm.Name + "=a%FFb"
				code, out := send(method, bad, body)
				if code != http.StatusBadRequest {
					t.Errorf("%s %s = %d %v; want 400", method, bad, code, out)
					continue
				}
				// A string parameter is refused on its field (or a part of it:
				// update_mask.paths[0]); one of a format (a time) may be refused as that.
				if field := strings.ToLower(snake(prm.Name)); prm.Schema.Type == "string" &&
					!slices.ContainsFunc(violations(out), func(v string) bool {
						f, reason, _ := strings.Cut(v, ":")
						return (f == field || strings.HasPrefix(f, field+".")) &&
							(reason == "INVALID_UTF8" || prm.Schema.Format != "")
					}) {
					t.Errorf("%s %s: violations %v; want INVALID_UTF8 on %s", method, bad, violations(out), field)
				}
			}

			// Bodies.
			if op.RequestBody == nil {
				continue
			}
			for _, raw := range []string{`{`, `[]`, `"text"`, `{"a":`, `{}{}`} {
				if code, out := send(method, plain, raw); code != http.StatusBadRequest {
					t.Errorf("%s %s with body %s = %d %v; want 400", method, plain, raw, code, out)
				}
			}
			schema := doc.schema(op.RequestBody.Content["application/json"].Schema)
			for _, name := range slices.Sorted(maps.Keys(schema.Properties)) {
				wrong := `"text"`
				if typ := doc.schema(schema.Properties[name]).Type; typ == "string" || typ == "" {
					wrong = `{"x":[1]}`
				}
				send(method, plain, fmt.Sprintf(`{%q:%s}`, name, wrong))
			}
		}
	}
	t.Logf("%d operations, %d requests", operations, requests)
	if operations < 200 {
		t.Errorf("only %d operations in /openapi.json; the document no longer reads as this test expects", operations)
	}
}

// apiDocument is what TestMalformedRequests reads of an OpenAPI document.
type apiDocument struct {
	Paths      map[string]map[string]apiOperation `json:"paths"`
	Components struct {
		Schemas    map[string]apiSchema    `json:"schemas"`
		Parameters map[string]apiParameter `json:"parameters"`
	} `json:"components"`
}

type apiOperation struct {
	Parameters  []apiParameter `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema apiSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type apiParameter struct {
	Ref    string    `json:"$ref"`
	Name   string    `json:"name"`
	In     string    `json:"in"`
	Schema apiSchema `json:"schema"`
}

type apiSchema struct {
	Ref        string               `json:"$ref"`
	Type       string               `json:"type"`
	Format     string               `json:"format"`
	Properties map[string]apiSchema `json:"properties"`
}

// parameter resolves a reference to a parameter of the components.
func (d *apiDocument) parameter(p apiParameter) apiParameter {
	if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
		return d.Components.Parameters[name]
	}
	return p
}

// schema resolves references to schemas of the components.
func (d *apiDocument) schema(s apiSchema) apiSchema {
	for s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// violations lists an error body's field violations as field:reason.
func violations(body map[string]any) []string {
	var out []string
	details, _ := body["details"].([]any)
	for _, d := range details {
		d, _ := d.(map[string]any)
		vs, _ := d["fieldViolations"].([]any)
		for _, v := range vs {
			v, _ := v.(map[string]any)
			out = append(out, fmt.Sprint(v["field"], ":", v["reason"]))
		}
	}
	return out
}
