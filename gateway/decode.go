package gateway

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// The decoder's messages this file turns into field violations: protojson's for the body,
// grpc-gateway's for query parameters.
var (
	invalidValue = regexp.MustCompile(`^proto: \(line \d+:\d+\): invalid value for (\w+) field (\w+): (.*)$`)
	unknownField = regexp.MustCompile(`^proto: \(line \d+:\d+\): unknown field "([^"]*)"$`)
	badParameter = regexp.MustCompile(`^parsing field "([\w.]+)": (.*)$`)
	syntaxError  = regexp.MustCompile(`^proto: syntax error \(line \d+:\d+\): (.*)$`)
)

// bodyField is where a REST route puts its JSON body: the request field it fills ("" for the
// whole request, as `body: "*"`) and that field's message.
type bodyField struct {
	field string
	msg   protoreflect.MessageDescriptor
}

// bodyFields maps "METHOD /path/pattern" of every REST route of the Quarterdeck APIs to its body.
func bodyFields() map[string]bodyField {
	out := map[string]bodyField{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "quarterdeck.") {
			return true
		}
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				m := methods.Get(j)
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule == nil {
					continue
				}
				for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					verb, path := httpRule(r)
					if verb == "" || r.GetBody() == "" {
						continue
					}
					b := bodyField{msg: m.Input()}
					if r.GetBody() != "*" {
						f := m.Input().Fields().ByName(protoreflect.Name(r.GetBody()))
						if f == nil || f.Message() == nil {
							continue
						}
						b = bodyField{field: r.GetBody(), msg: f.Message()}
					}
					out[verb+" "+path] = b
				}
			}
		}
		return true
	})
	return out
}

func httpRule(r *annotations.HttpRule) (verb, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	}
	return "", ""
}

// decodeError rewrites a request the gateway could not decode (a wrong JSON type, an unknown
// enum value or field, a malformed query parameter) from the decoder's raw message into the
// platform's INVALID_ARGUMENT with a field violation naming the field as the services name them
// ("cost_center.display_name"). Any other error is returned as it is.
func (g *Gateway) decodeError(ctx context.Context, r *http.Request, st *status.Status) *status.Status {
	if st.Code() != codes.InvalidArgument || len(st.Details()) > 0 {
		return st
	}
	// protobuf-go puts a space or a no-break space after "proto:", at random per build, so that
	// nobody depends on its messages: this is the one place that does, and it says so in tests.
	msg := strings.ReplaceAll(st.Message(), "\u00a0", " ")
	var v *errdetails.BadRequest_FieldViolation
	switch {
	case invalidValue.MatchString(msg):
		m := invalidValue.FindStringSubmatch(msg)
		kind, raw := m[1], m[3]
		v = &errdetails.BadRequest_FieldViolation{Field: g.bodyPath(ctx, r, m[2]), Reason: "INVALID_VALUE",
			Description: fmt.Sprintf("%s is not a valid %s value", raw, kind)}
		if kind == "enum" {
			v.Reason = "INVALID_ENUM_VALUE"
			v.Description = fmt.Sprintf("%s is not one of the enum's values", raw)
			if values := g.enumValues(ctx, r, m[2]); values != "" {
				v.Description += ": " + values
			}
		}
	case unknownField.MatchString(msg):
		name := unknownField.FindStringSubmatch(msg)[1]
		v = &errdetails.BadRequest_FieldViolation{Field: g.bodyPath(ctx, r, name), Reason: "UNKNOWN_FIELD",
			Description: "is not a field of the request"}
	case badParameter.MatchString(msg):
		m := badParameter.FindStringSubmatch(msg)
		v = &errdetails.BadRequest_FieldViolation{Field: m[1], Reason: "INVALID_VALUE",
			Description: "the query parameter cannot be read: " + m[2]}
	case syntaxError.MatchString(msg), msg == "unexpected EOF":
		info := &errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: ErrorDomain}
		out, err := status.New(codes.InvalidArgument, "the request body is not valid JSON: "+syntaxError.ReplaceAllString(msg, "$1")).WithDetails(info)
		if err != nil {
			return st
		}
		return out
	default:
		return st
	}
	out, err := status.New(codes.InvalidArgument, "the request has invalid fields").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: ErrorDomain},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{v}})
	if err != nil {
		return st
	}
	return out
}

// bodyPath names the body's field jsonName as a path of the request: "cost_center.display_name"
// when the route puts the body in cost_center. A name the body's message does not have at its
// top level (a field of a nested message) is given alone, in the proto form.
func (g *Gateway) bodyPath(ctx context.Context, r *http.Request, jsonName string) string {
	b, ok := g.route(ctx, r)
	if !ok {
		return snakeCase(jsonName)
	}
	name := snakeCase(jsonName)
	if f := b.msg.Fields().ByJSONName(jsonName); f != nil {
		name = string(f.Name())
	} else if f := b.msg.Fields().ByName(protoreflect.Name(jsonName)); f != nil {
		name = string(f.Name())
	} else if b.msg.Fields().ByName(protoreflect.Name(name)) == nil {
		return name // not a top-level field: no prefix would be right
	}
	if b.field == "" {
		return name
	}
	return b.field + "." + name
}

// enumValues lists the values a top-level enum field of the body accepts, without the
// *_UNSPECIFIED zero, which the services refuse.
func (g *Gateway) enumValues(ctx context.Context, r *http.Request, jsonName string) string {
	b, ok := g.route(ctx, r)
	if !ok {
		return ""
	}
	f := b.msg.Fields().ByJSONName(jsonName)
	if f == nil || f.Enum() == nil {
		return ""
	}
	var names []string
	for i := range f.Enum().Values().Len() {
		if v := f.Enum().Values().Get(i); v.Number() != 0 {
			names = append(names, string(v.Name()))
		}
	}
	return strings.Join(names, ", ")
}

func (g *Gateway) route(ctx context.Context, r *http.Request) (bodyField, bool) {
	pattern, ok := runtime.HTTPPathPattern(ctx)
	if !ok {
		return bodyField{}, false
	}
	b, ok := g.bodies[r.Method+" "+pattern]
	return b, ok
}

// snakeCase is the proto form of a JSON field name: displayName → display_name.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
