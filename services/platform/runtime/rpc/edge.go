package rpc

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Metadata keys of the edge conventions. The gateway forwards a REST call's Idempotency-Key and
// If-Match headers under these keys; a gRPC client may send them as metadata too.
const (
	MetadataIdempotencyKey = "idempotency-key"
	MetadataIfMatch        = "if-match"
)

// Violation reasons of the edge conventions.
const (
	ReasonIdempotencyKeyConflict = "IDEMPOTENCY_KEY_CONFLICT"
	ReasonIfMatchConflict        = "IF_MATCH_CONFLICT"
	ReasonIfMatchInvalid         = "IF_MATCH_INVALID"
)

// applyEdgeMetadata fills a request's fields from the edge conventions' metadata before it is
// validated, so that a header value is checked by the same rules as the field:
//   - idempotency-key becomes the top-level request_id (AIP-155), on methods that have one;
//   - if-match becomes the top-level etag (a delete), or else the etag of the resource the
//     request carries (an update: UpdateCostCenterRequest.cost_center.etag).
//
// A field the client set to a different value is a conflict (INVALID_ARGUMENT); the same value is
// fine. Methods without such a field ignore the header, and `If-Match: *` ("any version") sets
// nothing.
func applyEdgeMetadata(ctx context.Context, req any) error {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	var vs []fault.Violation
	if keys := metadata.ValueFromIncomingContext(ctx, MetadataIdempotencyKey); len(keys) > 0 {
		m := msg.ProtoReflect()
		if fd := stringField(m.Descriptor(), "request_id"); fd != nil {
			vs = append(vs, fill(m, fd, "request_id", strings.TrimSpace(keys[0]), len(keys) > 1, ReasonIdempotencyKeyConflict)...)
		}
	}
	if tags := metadata.ValueFromIncomingContext(ctx, MetadataIfMatch); len(tags) > 0 {
		tag, valid := parseIfMatch(tags)
		m := msg.ProtoReflect()
		path, target := "etag", m
		fd := stringField(m.Descriptor(), "etag")
		if fd == nil {
			path, target, fd = resourceEtag(m)
		}
		switch {
		case fd == nil || tag == "*":
		case !valid:
			vs = append(vs, fault.Violation{Field: path, Reason: ReasonIfMatchInvalid,
				Description: "If-Match must be one etag, as returned by the API"})
		default:
			vs = append(vs, fill(target, fd, path, tag, false, ReasonIfMatchConflict)...)
		}
	}
	return fault.Invalid(vs...)
}

// fill sets the string field fd of m to value unless it is set already; a different value set
// already is a violation on path.
func fill(m protoreflect.Message, fd protoreflect.FieldDescriptor, path, value string, ambiguous bool, reason string) []fault.Violation {
	if ambiguous {
		return []fault.Violation{{Field: path, Reason: reason, Description: "the header is given more than once"}}
	}
	current := m.Get(fd).String()
	switch {
	case current == "":
		m.Set(fd, protoreflect.ValueOfString(value))
	case current != value:
		return []fault.Violation{{Field: path, Reason: reason,
			Description: path + " in the request differs from the header's value; send one or make them equal"}}
	}
	return nil
}

// stringField returns the singular string field name of md, if it has one.
func stringField(md protoreflect.MessageDescriptor, name protoreflect.Name) protoreflect.FieldDescriptor {
	fd := md.Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.Cardinality() == protoreflect.Repeated {
		return nil
	}
	return fd
}

// resourceEtag finds the etag of the resource a request carries: the first set, singular message
// field of m whose message has an etag.
func resourceEtag(m protoreflect.Message) (string, protoreflect.Message, protoreflect.FieldDescriptor) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.Cardinality() == protoreflect.Repeated || !m.Has(f) {
			continue
		}
		if fd := stringField(f.Message(), "etag"); fd != nil {
			return string(f.Name()) + ".etag", m.Mutable(f).Message(), fd
		}
	}
	return "", nil, nil
}

// parseIfMatch reads one entity tag from If-Match values: `"abc"`, `W/"abc"` or a bare `abc`
// become abc, `*` stays `*`. A list of tags is not valid here: a write is conditional on one.
func parseIfMatch(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	v := strings.TrimSpace(values[0])
	if v == "*" {
		return v, true
	}
	v = strings.TrimPrefix(v, "W/")
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || strings.ContainsAny(v, `",`) {
		return "", false
	}
	return v, true
}
