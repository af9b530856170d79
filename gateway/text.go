package gateway

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// textChecked is a backend's unary calls that answer a request holding text that is not UTF-8
// with INVALID_ARGUMENT and a violation naming each such field (INVALID_UTF8), instead of the
// INTERNAL — a 500 over REST — with which gRPC refuses to encode it.
//
// A path segment or a query parameter may percent-encode any bytes, and grpc-gateway copies
// them into the request's string fields as they are (a JSON body's strings protojson checks
// itself, decodeError). Protobuf requires proto3 strings to be UTF-8, so gRPC cannot send such a
// request, over the network or in the process (rpc.Local), and no service ever sees it to refuse
// it. Only a call that failed with INTERNAL is looked at: one that succeeds costs nothing more.
type textChecked struct{ grpc.ClientConnInterface }

func (c textChecked) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	err := c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
	if err == nil {
		return nil
	}
	if status.Code(err) != codes.Internal {
		return err
	}
	m, ok := args.(proto.Message)
	if !ok {
		return err
	}
	if terr := rpc.CheckText(m); terr != nil {
		st, _ := rpc.Status(terr, ErrorDomain)
		return st.Err()
	}
	return err
}
