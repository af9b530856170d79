package gateway_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/quarterdeck/quarterdeck/gateway"
)

// echoMethod is a bidirectional streaming method of a test-only service in the budget domain's
// proto package space, so the gateway routes it to the budget backend. The protos have no
// streaming method yet; the proxy must not depend on that.
const echoMethod = "/quarterdeck.budget.streamtest.Echo/Chat"

func init() {
	str := func(s string) *string { return &s }
	yes := true
	fdp := &descriptorpb.FileDescriptorProto{
		Name: str("quarterdeck/budget/streamtest/echo.proto"), Package: str("quarterdeck.budget.streamtest"),
		Syntax:     str("proto3"),
		Dependency: []string{"google/protobuf/wrappers.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: str("Echo"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: str("Chat"), InputType: str(".google.protobuf.StringValue"), OutputType: str(".google.protobuf.StringValue"),
			ClientStreaming: &yes, ServerStreaming: &yes,
		}}}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err == nil {
		err = protoregistry.GlobalFiles.RegisterFile(fd)
	}
	if err != nil {
		panic(err)
	}
}

// registerEcho adds the echo service to a backend: it answers each message with its value
// upper-cased by a prefix, and fails the stream on "fail".
func registerEcho(s *grpc.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "quarterdeck.budget.streamtest.Echo",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Chat", ServerStreams: true, ClientStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				for {
					in := &wrapperspb.StringValue{}
					if err := ss.RecvMsg(in); errors.Is(err, io.EOF) {
						return nil
					} else if err != nil {
						return err
					}
					if in.GetValue() == "fail" {
						st, _ := status.New(codes.FailedPrecondition, "asked to fail").WithDetails(
							&errdetails.ErrorInfo{Reason: "ASKED_TO_FAIL", Domain: "budget.quarterdeck.io"})
						return st.Err()
					}
					if err := ss.SendMsg(wrapperspb.String("echo:" + in.GetValue())); err != nil {
						return err
					}
				}
			}}},
	}, struct{}{})
}

func TestGRPCStreamingPassThrough(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t, registerEcho)
	e := startEdge(t, backend, gateway.Options{})
	conn := e.grpcConn(t, nil)
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

	stream, err := conn.NewStream(context.Background(), desc, echoMethod)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := stream.SendMsg(wrapperspb.String(v)); err != nil {
			t.Fatal(err)
		}
		got := &wrapperspb.StringValue{}
		if err := stream.RecvMsg(got); err != nil || got.GetValue() != "echo:"+v {
			t.Fatalf("reply to %s = %q, %v", v, got.GetValue(), err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := stream.RecvMsg(&wrapperspb.StringValue{}); !errors.Is(err, io.EOF) {
		t.Errorf("after the client's half-close: %v, want the end of the stream", err)
	}

	// A status in the middle of a stream reaches the client with its details.
	stream, err = conn.NewStream(context.Background(), desc, echoMethod)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.SendMsg(wrapperspb.String("x"))
	if err := stream.RecvMsg(&wrapperspb.StringValue{}); err != nil {
		t.Fatal(err)
	}
	_ = stream.SendMsg(wrapperspb.String("fail"))
	err = stream.RecvMsg(&wrapperspb.StringValue{})
	if status.Code(err) != codes.FailedPrecondition || grpcReason(err) != "ASKED_TO_FAIL" {
		t.Errorf("failed stream = %v", err)
	}
}
