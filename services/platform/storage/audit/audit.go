// Package audit keeps a service's audit trail: one record per mutation, written in the same
// transaction as the change and its outbox row, naming who changed which resource through which
// call and how each field changed. The records of a service form a hash chain, so that an edit,
// a deletion or a reordering of stored records is detected by Verify. docs/audit.md describes
// the record and the canonical encoding the hashes cover.
package audit

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// The actions of the standard methods. Custom methods use their verb in upper case, e.g. "APPROVE".
const (
	Create = "CREATE"
	Update = "UPDATE"
	Delete = "DELETE"
)

// Entry is a mutation as the service describes it, before it has a place in the chain.
type Entry struct {
	Actor     string
	Method    string
	Resource  string
	Action    string
	RequestID string
	TraceID   string
	Changes   []Change
}

// Record is an entry appended to the chain.
type Record struct {
	Entry
	Sequence     int64
	CreateTime   time.Time // UTC, microsecond precision
	PreviousHash string    // lowercase hex SHA-256 of the previous record; "" for the first
	Hash         string    // lowercase hex SHA-256 of Canonical(record)
}

// Change is one field's value before and after a mutation, as google.protobuf.Value. A nil
// Before means the field was unset (or the resource created), a nil After that it was cleared
// (or the resource deleted).
type Change struct {
	Path   string
	Before *structpb.Value
	After  *structpb.Value
}

// NewEntry describes a mutation of the resource named resource made by the call in ctx: the
// actor from the identity in ctx, the gRPC method, the request id (req's AIP-155 request_id when
// it has one, else the gateway's X-Request-Id), the trace id, and the field changes from before
// to after (either nil for a create or a delete). req may be nil.
func NewEntry(ctx context.Context, req proto.Message, action, resource string, before, after proto.Message) (Entry, error) {
	changes, err := Diff(before, after)
	if err != nil {
		return Entry{}, fmt.Errorf("audit %s %s: %w", action, resource, err)
	}
	method, _ := grpc.Method(ctx)
	e := Entry{
		Actor:     identity.Actor(ctx),
		Method:    method,
		Resource:  resource,
		Action:    action,
		RequestID: RequestID(ctx, req),
		Changes:   changes,
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		e.TraceID = sc.TraceID().String()
	}
	return e, nil
}

// RequestID returns the id of the request: the request_id field of req (AIP-155) when it is set,
// else the x-request-id metadata the gateway forwards (its X-Request-Id header), else "".
func RequestID(ctx context.Context, req proto.Message) string {
	if req != nil {
		m := req.ProtoReflect()
		if fd := m.Descriptor().Fields().ByName("request_id"); fd != nil && fd.Kind() == protoreflect.StringKind &&
			!fd.IsList() && !fd.IsMap() {
			if id := m.Get(fd).String(); id != "" {
				return id
			}
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if ids := md.Get("x-request-id"); len(ids) > 0 {
			return ids[0]
		}
	}
	return ""
}
