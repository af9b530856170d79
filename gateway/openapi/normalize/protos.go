package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// What the protos say that protoc-gen-openapiv3 leaves out: the schema rules of buf.validate, which
// the services enforce (required fields, patterns, lengths, ranges, refused enum values), and the
// edge headers each method honours (Idempotency-Key, If-Match). Both are read from the descriptors
// of the API (`buf build` of proto/), so they cover every service without a line per operation.

// loadDescriptors reads a FileDescriptorSet (a `buf build -o x.binpb` image, with its imports).
func loadDescriptors(path string) (*protoregistry.Files, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	// The resolver knows the buf.validate extensions (imported above), so field options carry them
	// parsed.
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return files, nil
}

// methods indexes the RPC methods of files by the operationId protoc-gen-openapiv3 gives them,
// `<Service>_<Method>`; a service name found in two packages is left out (ambiguous).
func methods(files *protoregistry.Files) map[string]protoreflect.MethodDescriptor {
	index := map[string]protoreflect.MethodDescriptor{}
	dup := map[string]bool{}
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				key := string(s.Name()) + "_" + string(m.Name())
				if _, ok := index[key]; ok {
					dup[key] = true
				}
				index[key] = m
			}
		}
		return true
	})
	for k := range dup {
		delete(index, k)
	}
	return index
}

// additionalBinding matches the suffix protoc-gen-openapiv3 adds to the operationId of a method's
// additional HTTP bindings.
var additionalBinding = regexp.MustCompile(`_[0-9]+$`)

// methodOf returns the RPC method of an operation, or nil.
func methodOf(index map[string]protoreflect.MethodDescriptor, op map[string]any) protoreflect.MethodDescriptor {
	id, _ := op["operationId"].(string)
	if m, ok := index[id]; ok {
		return m
	}
	return index[additionalBinding.ReplaceAllString(id, "")]
}

// applyProtos adds the schema rules to the component schemas (one per message) and to each
// operation's query parameters and inline request body, and declares the edge headers.
func applyProtos(doc map[string]any, files *protoregistry.Files) error {
	comps := components(doc)
	schemas := child(comps, "schemas")
	for name, s := range schemas {
		d, err := files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			continue // not a message of ours (e.g. the error details added by addErrors)
		}
		md, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			continue
		}
		if sm, ok := s.(map[string]any); ok {
			constrainObject(sm, md)
		}
	}
	declareHeaders(comps)
	index := methods(files)
	if err := eachOperation(doc, func(path, method string, op map[string]any) error {
		m := methodOf(index, op)
		if m == nil {
			return fmt.Errorf("%s %s: no RPC method for operationId %v", strings.ToUpper(method), path, op["operationId"])
		}
		req := m.Input()
		for _, p := range params(op) {
			if p["in"] != "query" {
				continue
			}
			name, _ := p["name"].(string)
			fd := fieldByJSONPath(req, name)
			if fd == nil {
				continue
			}
			s, _ := p["schema"].(map[string]any)
			if s == nil {
				continue
			}
			r := rules(fd)
			if r.GetRequired() {
				p["required"] = true
			}
			applyRules(s, fd, r, false)
		}
		if body := bodySchema(op); body != nil && body["$ref"] == nil {
			constrainObject(body, req) // body "*": the request without its path fields
		}
		addHeaders(op, method, req)
		return nil
	}); err != nil {
		return err
	}
	pruneSchemas(doc)
	return nil
}

// bodySchema returns the JSON schema of an operation's request body, or nil.
func bodySchema(op map[string]any) map[string]any {
	rb, _ := op["requestBody"].(map[string]any)
	content, _ := rb["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	s, _ := mt["schema"].(map[string]any)
	return s
}

// fieldByJSONPath finds the field a query parameter binds: JSON names separated by dots.
func fieldByJSONPath(md protoreflect.MessageDescriptor, path string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for _, seg := range strings.Split(path, ".") {
		if md == nil {
			return nil
		}
		fd = md.Fields().ByJSONName(seg)
		if fd == nil {
			return nil
		}
		md = fd.Message()
	}
	return fd
}

func rules(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, validate.E_Field) {
		return nil
	}
	r, _ := proto.GetExtension(opts, validate.E_Field).(*validate.FieldRules)
	return r
}

// constrainObject adds the rules of md's fields to the object schema s of md.
func constrainObject(s map[string]any, md protoreflect.MessageDescriptor) {
	properties, _ := s["properties"].(map[string]any)
	required := stringSet(s["required"])
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		p, ok := properties[fd.JSONName()].(map[string]any)
		if !ok {
			continue
		}
		r := rules(fd)
		if (r.GetRequired() || refusesZeroEnum(fd, r)) && !slices.Contains(required, fd.JSONName()) {
			required = append(required, fd.JSONName())
		}
		applyRules(p, fd, r, slices.Contains(required, fd.JSONName()))
	}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, n := range required {
			r[i] = n
		}
		s["required"] = r
	}
}

// refusesZeroEnum reports whether fd is a singular enum field without presence whose rules refuse
// its zero value, which is what an absent field reads as: the field is required.
func refusesZeroEnum(fd protoreflect.FieldDescriptor, r *validate.FieldRules) bool {
	if fd.Kind() != protoreflect.EnumKind || fd.IsList() || fd.HasPresence() || r.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE {
		return false
	}
	e := r.GetEnum()
	if e == nil {
		return false
	}
	return slices.Contains(e.GetNotIn(), 0) || (len(e.GetIn()) > 0 && !slices.Contains(e.GetIn(), 0)) ||
		(e.HasConst() && e.GetConst() != 0)
}

func stringSet(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// applyRules adds to the schema s of the field fd what its rules r say. A required enum field (by
// its rules, or by field_behavior REQUIRED when required is true) refuses its zero value.
func applyRules(s map[string]any, fd protoreflect.FieldDescriptor, r *validate.FieldRules, required bool) {
	if fd.IsList() {
		if rep := r.GetRepeated(); rep != nil {
			if rep.HasMinItems() {
				s["minItems"] = rep.GetMinItems()
			}
			if rep.HasMaxItems() {
				s["maxItems"] = rep.GetMaxItems()
			}
			if rep.GetUnique() {
				s["uniqueItems"] = true
			}
			if items, ok := s["items"].(map[string]any); ok {
				ir := rep.GetItems()
				applyScalar(items, fd, ir, ir.GetRequired())
			}
		}
		return
	}
	if fd.IsMap() {
		return
	}
	applyScalar(s, fd, r, required || r.GetRequired())
}

// applyScalar adds the rules of one value (a singular field or a list's items) to its schema.
func applyScalar(s map[string]any, fd protoreflect.FieldDescriptor, r *validate.FieldRules, required bool) {
	if fd.Kind() == protoreflect.EnumKind {
		constrainEnum(s, fd.Enum(), r.GetEnum(), required)
		return
	}
	if r == nil {
		return
	}
	m := r.ProtoReflect()
	typ := m.WhichOneof(m.Descriptor().Oneofs().ByName("type"))
	if typ == nil {
		return
	}
	t := m.Get(typ).Message()
	get := func(name protoreflect.Name) (protoreflect.Value, bool) {
		f := t.Descriptor().Fields().ByName(name)
		if f == nil || !t.Has(f) {
			return protoreflect.Value{}, false
		}
		return t.Get(f), true
	}
	// With IGNORE_IF_ZERO_VALUE the rules hold for a value that is set: an empty string passes,
	// unless the field is required.
	optional := r.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE && !required
	switch typ.Name() {
	case "string":
		if v, ok := get("min_len"); ok && !optional {
			s["minLength"] = v.Uint()
		}
		if v, ok := get("max_len"); ok {
			s["maxLength"] = v.Uint()
		}
		if v, ok := get("len"); ok {
			s["minLength"], s["maxLength"] = v.Uint(), v.Uint()
		}
		if v, ok := get("pattern"); ok {
			s["pattern"] = v.String()
			if optional {
				s["pattern"] = "^$|(?:" + v.String() + ")"
			}
		}
		for rule, format := range map[protoreflect.Name]string{"uuid": "uuid", "uri": "uri", "email": "email",
			"hostname": "hostname", "ipv4": "ipv4", "ipv6": "ipv6"} {
			if v, ok := get(rule); ok && v.Bool() {
				s["format"] = format
			}
		}
		if v, ok := get("in"); ok && v.List().Len() > 0 {
			var in []any
			for i := range v.List().Len() {
				in = append(in, v.List().Get(i).String())
			}
			s["enum"] = in
		}
	case "int32", "sint32", "sfixed32", "uint32", "fixed32", "float", "double",
		"int64", "sint64", "sfixed64", "uint64", "fixed64":
		if s["type"] != "integer" && s["type"] != "number" {
			return // 64-bit integers are JSON strings
		}
		bounds := map[protoreflect.Name]string{"gte": "minimum", "gt": "exclusiveMinimum", "lte": "maximum", "lt": "exclusiveMaximum"}
		for rule, key := range bounds {
			if v, ok := get(rule); ok {
				s[key] = v.Interface()
			}
		}
	}
}

// constrainEnum removes from an enum field's schema the values its rules refuse: the zero value
// (`*_UNSPECIFIED`) of a required field, and whatever `in`/`not_in` leave out. The field's schema
// then lists its own values rather than referring to the enum's.
func constrainEnum(s map[string]any, ed protoreflect.EnumDescriptor, r *validate.EnumRules, required bool) {
	allowed := func(n protoreflect.EnumNumber) bool {
		if required && n == 0 {
			return false
		}
		if in := r.GetIn(); len(in) > 0 && !slices.Contains(in, int32(n)) {
			return false
		}
		if r.HasConst() && r.GetConst() != int32(n) {
			return false
		}
		return !slices.Contains(r.GetNotIn(), int32(n))
	}
	var values []any
	all := true
	for i := range ed.Values().Len() {
		v := ed.Values().Get(i)
		if allowed(v.Number()) {
			values = append(values, string(v.Name()))
		} else {
			all = false
		}
	}
	if all {
		return
	}
	delete(s, "$ref")
	s["type"] = "string"
	s["enum"] = values
	s["title"] = string(ed.FullName())
}

// The edge headers (docs/gateway.md): the gateway forwards them and the services' rpc interceptor
// copies Idempotency-Key into a request's top-level `request_id` and If-Match into its top-level
// `etag` or, for an update, the etag of the resource it carries.
const (
	paramIdempotencyKey = "IdempotencyKey"
	paramIfMatch        = "IfMatch"
)

func declareHeaders(comps map[string]any) {
	ps := child(comps, "parameters")
	ps[paramIdempotencyKey] = map[string]any{
		"name": "Idempotency-Key", "in": "header",
		"description": "A UUID identifying this request, so that it can be retried safely: it becomes " +
			"the request's `request_id` (AIP-155). A retry with the same key and the same request " +
			"returns the first call's result; the same key with a different request is 400 " +
			"`REQUEST_ID_REUSED`. A `requestId` in the request must be equal to it.",
		"schema": map[string]any{"type": "string", "format": "uuid"},
	}
	ps[paramIfMatch] = map[string]any{
		"name": "If-Match", "in": "header",
		"description": "The resource's `etag`, as the API returned it (`\"tag\"`, `W/\"tag\"` or `tag`): " +
			"the call fails with 409 `ETAG_MISMATCH` when the resource changed since. `*` sets no " +
			"condition. An `etag` in the request must be equal to it.",
		"schema": map[string]any{"type": "string"},
	}
}

// addHeaders declares the edge headers the operation's request honours.
func addHeaders(op map[string]any, method string, req protoreflect.MessageDescriptor) {
	list, _ := op["parameters"].([]any)
	add := func(name string) {
		ref := "#/components/parameters/" + name
		for _, p := range list {
			if pm, ok := p.(map[string]any); ok && pm["$ref"] == ref {
				return
			}
		}
		list = append(list, map[string]any{"$ref": ref})
	}
	if isString(req.Fields().ByName("request_id")) {
		add(paramIdempotencyKey)
	}
	if honoursIfMatch(method, req) {
		add(paramIfMatch)
	}
	if len(list) > 0 {
		op["parameters"] = list
	}
}

func honoursIfMatch(method string, req protoreflect.MessageDescriptor) bool {
	if isString(req.Fields().ByName("etag")) {
		return true
	}
	if method != "patch" {
		return false // a create carries a resource too, but has no version to match
	}
	for i := range req.Fields().Len() {
		f := req.Fields().Get(i)
		if f.Kind() == protoreflect.MessageKind && !f.IsList() && !f.IsMap() && isString(f.Message().Fields().ByName("etag")) {
			return true
		}
	}
	return false
}

func isString(fd protoreflect.FieldDescriptor) bool {
	return fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList()
}

// pruneSchemas removes the component schemas nothing refers to any more: the enums whose every
// use now lists its own values.
func pruneSchemas(doc map[string]any) {
	schemas := child(components(doc), "schemas")
	const prefix = "#/components/schemas/"
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok && strings.HasPrefix(r, prefix) {
				name := strings.TrimPrefix(r, prefix)
				if !used[name] {
					used[name] = true
					walk(schemas[name])
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	for k, v := range doc {
		if k != "components" {
			walk(v)
		}
	}
	for k, v := range components(doc) {
		if k != "schemas" {
			walk(v)
		}
	}
	for name := range schemas {
		if !used[name] {
			delete(schemas, name)
		}
	}
}
