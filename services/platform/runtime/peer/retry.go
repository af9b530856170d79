package peer

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/wait"
)

// Bounds of the wait between two attempts: doubled from backoffBase per attempt up to
// backoffMax, each wait drawn between half and all of that.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = time.Second
)

// Idempotent marks one call as safe to repeat, for a method that changes nothing although its
// protos do not say so (CheckFunds is a POST):
//
//	budget.CheckFunds(ctx, req, peer.Idempotent())
func Idempotent() grpc.CallOption { return idempotentOption{} }

type idempotentOption struct{ grpc.EmptyCallOption }

// retryable reports whether a call may be repeated after UNAVAILABLE: an UNAVAILABLE call may
// have been applied by the peer before the connection broke, so only a call whose repetition
// changes nothing more is retried.
func (c *Conn) retryable(method string, req any, opts []grpc.CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(idempotentOption); ok {
			return true
		}
	}
	return c.idempotent[method] || declaredIdempotent(method) || hasRequestID(req)
}

// declared caches declaredIdempotent per full method name: descriptors do not change while the
// process runs.
var declared sync.Map // string → bool

// declaredIdempotent reports whether the protos linked into the program declare method free of
// side effects or idempotent (idempotency_level), or map it to an HTTP GET.
func declaredIdempotent(method string) bool {
	if v, ok := declared.Load(method); ok {
		return v.(bool)
	}
	v := lookupIdempotent(method)
	declared.Store(method, v)
	return v
}

func lookupIdempotent(method string) bool {
	// "/quarterdeck.budget.v1.BudgetService/CheckFunds"
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return false
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return false
	}
	mo, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || mo == nil {
		return false
	}
	switch mo.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
		return true
	}
	rule, _ := proto.GetExtension(mo, annotations.E_Http).(*annotations.HttpRule)
	return rule.GetGet() != ""
}

// hasRequestID reports whether req carries a request_id (AIP-155): the peer applies a request
// id once, and answers a repeat with the first answer.
func hasRequestID(req any) bool {
	m, ok := req.(proto.Message)
	if !ok {
		return false
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName("request_id")
	return fd != nil && fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated &&
		r.Get(fd).String() != ""
}

// backoffDelay is the wait after the attempt-th attempt failed.
func backoffDelay(attempt int) time.Duration {
	d := backoffMax
	if attempt < 10 {
		d = min(backoffMax, backoffBase<<(attempt-1))
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d; it returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool { return wait.For(ctx, d, nil) }
