package gateway

import (
	"context"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// registerOperations mounts the REST API of the OperationsService, which every domain service
// serves about itself: each call goes to the service its parent or name names
// (`services/budget/...` to budget), over the same connection as that service's own API.
func registerOperations(ctx context.Context, mux *runtime.ServeMux, conns map[string]grpc.ClientConnInterface) error {
	return operationsv1.RegisterOperationsServiceHandlerClient(ctx, mux, operationsRouter(conns))
}

// operationsRouter is an OperationsServiceClient that dispatches each call on the service its
// request names.
type operationsRouter map[string]grpc.ClientConnInterface

var _ operationsv1.OperationsServiceClient = operationsRouter(nil)

// route returns the client of the service that name (`services/{service}` or a resource under
// it), a field of req, belongs to, or NOT_FOUND for a service the gateway does not know —
// INVALID_ARGUMENT when the name is no text to tell back (rpc.CheckText), as the service would.
func (r operationsRouter) route(req proto.Message, name string) (operationsv1.OperationsServiceClient, error) {
	rest, _ := strings.CutPrefix(name, "services/")
	service, _, _ := strings.Cut(rest, "/")
	conn, ok := r[service]
	if !ok || !strings.HasPrefix(name, "services/") {
		if err := rpc.CheckText(req); err != nil {
			st, _ := rpc.Status(err, ErrorDomain)
			return nil, st.Err()
		}
		st := status.New(codes.NotFound, "no such service: "+service)
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "SERVICE_NOT_FOUND", Domain: ErrorDomain,
			Metadata: map[string]string{"service": service}}); err == nil {
			st = d
		}
		return nil, st.Err()
	}
	return operationsv1.NewOperationsServiceClient(conn), nil
}

func (r operationsRouter) ListAuditRecords(ctx context.Context, in *operationsv1.ListAuditRecordsRequest, opts ...grpc.CallOption) (*operationsv1.ListAuditRecordsResponse, error) {
	c, err := r.route(in, in.GetParent())
	if err != nil {
		return nil, err
	}
	return c.ListAuditRecords(ctx, in, opts...)
}

func (r operationsRouter) VerifyAuditChain(ctx context.Context, in *operationsv1.VerifyAuditChainRequest, opts ...grpc.CallOption) (*operationsv1.VerifyAuditChainResponse, error) {
	c, err := r.route(in, in.GetParent())
	if err != nil {
		return nil, err
	}
	return c.VerifyAuditChain(ctx, in, opts...)
}

func (r operationsRouter) ListDeadLetters(ctx context.Context, in *operationsv1.ListDeadLettersRequest, opts ...grpc.CallOption) (*operationsv1.ListDeadLettersResponse, error) {
	c, err := r.route(in, in.GetParent())
	if err != nil {
		return nil, err
	}
	return c.ListDeadLetters(ctx, in, opts...)
}

func (r operationsRouter) ReplayDeadLetter(ctx context.Context, in *operationsv1.ReplayDeadLetterRequest, opts ...grpc.CallOption) (*operationsv1.DeadLetter, error) {
	c, err := r.route(in, in.GetName())
	if err != nil {
		return nil, err
	}
	return c.ReplayDeadLetter(ctx, in, opts...)
}
