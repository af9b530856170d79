package testkit

import (
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ProtoFile builds a file descriptor written as a google.protobuf.FileDescriptorProto in text
// format — what protoc would produce for a .proto file — against the protos linked into the test:
// a test's own API, such as a message with the field behaviours or a service with the policies
// under test, that no real API declares yet. Options are set with their extension names, e.g.
// options { [google.api.field_behavior]: REQUIRED }.
func ProtoFile(t testing.TB, text string) protoreflect.FileDescriptor {
	t.Helper()
	var fdp descriptorpb.FileDescriptorProto
	if err := prototext.Unmarshal([]byte(text), &fdp); err != nil {
		t.Fatalf("proto file in text format: %v", err)
	}
	fd, err := protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("proto file %s: %v", fdp.GetName(), err)
	}
	return fd
}
