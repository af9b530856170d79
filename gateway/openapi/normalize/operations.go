package main

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// The parts of each operation a reader and a client generator see first: its path parameters,
// named and described as the IDs they are, and its summary and description.

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// eachOperation calls f for every operation of the document, in a stable order.
func eachOperation(doc map[string]any, f func(path, method string, op map[string]any) error) error {
	paths, _ := doc["paths"].(map[string]any)
	for _, path := range sortedKeys(paths) {
		item, _ := paths[path].(map[string]any)
		for _, method := range httpMethods {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			if err := f(path, method, op); err != nil {
				return err
			}
		}
	}
	return nil
}

// params returns the operation's parameters that are objects (not references).
func params(op map[string]any) []map[string]any {
	list, _ := op["parameters"].([]any)
	var out []map[string]any
	for _, p := range list {
		if pm, ok := p.(map[string]any); ok {
			out = append(out, pm)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// components returns the document's components object, created when missing.
func components(doc map[string]any) map[string]any { return child(doc, "components") }

// child returns the object m[key], created when missing.
func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// nameIDParams names every path parameter that follows a collection after the collection, in the
// singular (`/v1/costCenters/{name}` becomes `/v1/costCenters/{costCenter}`, `/v1/budgets/{parent}/lines`
// becomes `/v1/budgets/{budget}/lines`), and describes it as what a caller puts there: the
// resource's ID, the last segment of its resource name, not the name. The URL is unchanged (the
// gateway binds `/v1/{name=costCenters/*}`); a caller who put the name there would get a 404.
func nameIDParams(path string, ops map[string]any) string {
	segs := strings.Split(path, "/")
	renames := map[string]string{}
	resource := map[string]string{} // new parameter name → its resource name pattern
	for i, seg := range segs {
		param, verb, _ := strings.Cut(seg, ":")
		if !strings.HasPrefix(param, "{") || i < 2 || segs[i-1] == "" || strings.HasPrefix(segs[i-1], "{") {
			continue
		}
		from := strings.Trim(param, "{}")
		to := singular(segs[i-1])
		renames[from] = to
		if verb != "" {
			verb = ":" + verb
		}
		segs[i] = "{" + to + "}" + verb
		// The resource name: the path after the version, up to this parameter.
		resource[to] = strings.Join(segs[2:i+1], "/")
		resource[to] = strings.TrimSuffix(resource[to], verb)
	}
	for _, op := range ops {
		o, ok := op.(map[string]any)
		if !ok {
			continue
		}
		for _, p := range params(o) {
			if p["in"] != "path" {
				continue
			}
			name, _ := p["name"].(string)
			to, ok := renames[name]
			if !ok {
				continue
			}
			p["name"] = to
			p["description"] = fmt.Sprintf("The ID of the %s: the last segment of its resource name `%s`. "+
				"The ID alone, without the collections before it.", words(to), resource[to])
			p["schema"] = map[string]any{"type": "string", "pattern": "^[^/]+$"}
		}
	}
	return strings.Join(segs, "/")
}

// singular turns a collection's name into its resource's: `costCenters` → `costCenter`,
// `policies` → `policy`.
func singular(collection string) string {
	switch {
	case strings.HasSuffix(collection, "ies"):
		return strings.TrimSuffix(collection, "ies") + "y"
	case strings.HasSuffix(collection, "sses"), strings.HasSuffix(collection, "xes"):
		return strings.TrimSuffix(collection, "es")
	default:
		return strings.TrimSuffix(collection, "s")
	}
}

// words spells a lowerCamel name in lower-case words: `costCenter` → `cost center`.
func words(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// describeOperations gives every operation a description, its proto method's comment, and a
// one-line summary, the comment's first sentence. protoc-gen-openapiv3 puts the whole comment in
// `summary`. An operation without a comment is an error: its proto method must say what it does.
func describeOperations(doc map[string]any) error {
	return eachOperation(doc, func(path, method string, op map[string]any) error {
		summary, _ := op["summary"].(string)
		desc, _ := op["description"].(string)
		if desc == "" {
			desc = summary
		}
		if strings.TrimSpace(desc) == "" {
			return fmt.Errorf("%s %s (%v) has no description: comment its proto method",
				strings.ToUpper(method), path, op["operationId"])
		}
		op["description"] = desc
		op["summary"] = firstSentence(desc)
		return nil
	})
}

// firstSentence returns the first sentence of text, on one line and without its full stop.
func firstSentence(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	for from := 0; ; {
		i := strings.Index(text[from:], ". ")
		if i < 0 {
			break
		}
		i += from
		if before := text[:i]; strings.HasSuffix(before, "e.g") || strings.HasSuffix(before, "i.e") {
			from = i + 2
			continue
		}
		text = text[:i]
		break
	}
	return strings.TrimSuffix(text, ".")
}
