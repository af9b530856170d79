package rpc_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// payrollFiles builds, in the test, an API with a sensitive field (no real API has one yet):
//
//	message Payslip {
//	  string employee = 1;
//	  int64 salary = 2 [(quarterdeck.auth.v1.sensitive) = {read_scope: "finance.read", write_scope: "finance.write"}];
//	  repeated Payslip history = 3;
//	}
//	service PayrollService {
//	  rpc GetPayslip(Payslip) returns (Payslip) { option (quarterdeck.auth.v1.policy) = {scopes: "payroll.read"}; }
//	  rpc WhoAmI(Payslip) returns (Payslip) { option (quarterdeck.auth.v1.policy) = {public: true}; }
//	  rpc Undeclared(Payslip) returns (Payslip);
//	}
func payrollFiles(t *testing.T) (*protoregistry.Files, protoreflect.MessageDescriptor) {
	t.Helper()
	fd := testkit.ProtoFile(t, `
		name: "payrolltest/v1/payroll.proto"  package: "payrolltest.v1"  syntax: "proto3"
		dependency: "quarterdeck/auth/v1/auth.proto"
		message_type {
			name: "Payslip"
			field { name: "employee"  number: 1  json_name: "employee"  label: LABEL_OPTIONAL  type: TYPE_STRING }
			field { name: "salary"  number: 2  json_name: "salary"  label: LABEL_OPTIONAL  type: TYPE_INT64
				options { [quarterdeck.auth.v1.sensitive] { read_scope: "finance.read"  write_scope: "finance.write" } } }
			field { name: "history"  number: 3  json_name: "history"  label: LABEL_REPEATED  type: TYPE_MESSAGE
				type_name: ".payrolltest.v1.Payslip" }
			field { name: "by_month"  number: 4  json_name: "byMonth"  label: LABEL_REPEATED  type: TYPE_MESSAGE
				type_name: ".payrolltest.v1.Payslip.ByMonthEntry" }
			nested_type {
				name: "ByMonthEntry"
				options { map_entry: true }
				field { name: "key"  number: 1  json_name: "key"  label: LABEL_OPTIONAL  type: TYPE_STRING }
				field { name: "value"  number: 2  json_name: "value"  label: LABEL_OPTIONAL  type: TYPE_MESSAGE
					type_name: ".payrolltest.v1.Payslip" }
			}
		}
		service {
			name: "PayrollService"
			method { name: "GetPayslip"  input_type: ".payrolltest.v1.Payslip"  output_type: ".payrolltest.v1.Payslip"
				options { [quarterdeck.auth.v1.policy] { scopes: "payroll.read" } } }
			method { name: "WhoAmI"  input_type: ".payrolltest.v1.Payslip"  output_type: ".payrolltest.v1.Payslip"
				options { [quarterdeck.auth.v1.policy] { public: true } } }
			method { name: "Undeclared"  input_type: ".payrolltest.v1.Payslip"  output_type: ".payrolltest.v1.Payslip"  options {} }
			method { name: "EmptyPolicy"  input_type: ".payrolltest.v1.Payslip"  output_type: ".payrolltest.v1.Payslip"
				options { [quarterdeck.auth.v1.policy] {} } }
		}`)
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	return files, fd.Messages().ByName("Payslip")
}

// startPayroll serves the test API: every method answers a payslip of the caller with a
// salary and a history entry with a salary, so that redaction shows at two depths.
func startPayroll(t *testing.T, verifier *identity.Verifier) (*grpc.ClientConn, protoreflect.MessageDescriptor) {
	return startPayrollForwarding(t, verifier, nil)
}

// startPayrollForwarding is startPayroll whose WhoAmI, when next is set, asks next instead and
// answers what it says: a service calling another on its caller's behalf.
func startPayrollForwarding(t *testing.T, verifier *identity.Verifier, next *grpc.ClientConn) (*grpc.ClientConn, protoreflect.MessageDescriptor) {
	t.Helper()
	files, md := payrollFiles(t)
	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Identity: verifier, Authorizer: authz.New(files)})
	if err != nil {
		t.Fatal(err)
	}
	handler := func(_ any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
		req := dynamicpb.NewMessage(md)
		if err := dec(req); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, _ any) (any, error) {
			if next != nil && methodOf(ctx) == "WhoAmI" {
				resp := dynamicpb.NewMessage(md)
				err := next.Invoke(ctx, "/payrolltest.v1.PayrollService/WhoAmI", dynamicpb.NewMessage(md), resp)
				return resp, err
			}
			p, _ := identity.FromContext(ctx)
			resp := dynamicpb.NewMessage(md)
			resp.Set(md.Fields().ByName("employee"), protoreflect.ValueOfString(p.Subject))
			resp.Set(md.Fields().ByName("salary"), protoreflect.ValueOfInt64(100000))
			old := dynamicpb.NewMessage(md)
			old.Set(md.Fields().ByName("salary"), protoreflect.ValueOfInt64(90000))
			resp.Mutable(md.Fields().ByName("history")).List().Append(protoreflect.ValueOfMessage(old))
			jan := dynamicpb.NewMessage(md)
			jan.Set(md.Fields().ByName("salary"), protoreflect.ValueOfInt64(8000))
			resp.Mutable(md.Fields().ByName("by_month")).Map().Set(protoreflect.ValueOfString("jan").MapKey(), protoreflect.ValueOfMessage(jan))
			return resp, nil
		}
		return in(ctx, req, &grpc.UnaryServerInfo{FullMethod: "/payrolltest.v1.PayrollService/" + methodOf(ctx)}, h)
	}
	desc := grpc.ServiceDesc{ServiceName: "payrolltest.v1.PayrollService", HandlerType: (*any)(nil)}
	for _, m := range []string{"GetPayslip", "WhoAmI", "Undeclared", "EmptyPolicy"} {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: m, Handler: handler})
	}
	srv.RegisterService(&desc, struct{}{})
	return testkit.Dial(t, testkit.Serve(t, srv)), md
}

func methodOf(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m[len("/payrolltest.v1.PayrollService/"):]
}

func TestIdentityAndAuthorization(t *testing.T) {
	t.Parallel()
	conn, md := startPayroll(t, identitytest.Verifier())

	_, otherKey, _ := identity.GenerateKey()
	otherSigner, _ := identity.NewSigner(otherKey, identity.SignerOptions{})
	_, testKey := identitytestKey(t)
	expiredSigner, _ := identity.NewSigner(testKey, identity.SignerOptions{
		Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
	otherAudience, _ := identity.NewSigner(testKey, identity.SignerOptions{Audience: "elsewhere"})
	sign := func(s *identity.Signer, scopes ...string) string {
		tok, err := s.Sign(identity.Principal{Subject: "users/alice", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := func(scopes ...string) string {
		tok, err := identitytest.Signer().Sign(identity.Principal{Subject: "users/alice", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := valid("payroll.read")
	tampered := good[:len(good)-4] + "AAAA"

	tests := []struct {
		name     string
		method   string
		tokens   []string
		salary   int64 // set in the request when non-zero
		nested   bool  // set it in history[0] instead
		code     codes.Code
		reason   string
		meta     map[string]string
		wantPaid bool // the response keeps the salaries
	}{
		{name: "no identity", method: "GetPayslip", code: codes.Unauthenticated, reason: rpc.ReasonIdentityMissing},
		{name: "garbage", method: "GetPayslip", tokens: []string{"garbage"}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityInvalid},
		{name: "signed by another key", method: "GetPayslip", tokens: []string{sign(otherSigner, "payroll.read")}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityInvalid},
		{name: "tampered signature", method: "GetPayslip", tokens: []string{tampered}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityInvalid},
		{name: "expired", method: "GetPayslip", tokens: []string{sign(expiredSigner, "payroll.read")}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityExpired},
		{name: "other audience", method: "GetPayslip", tokens: []string{sign(otherAudience, "payroll.read")}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityInvalid},
		{name: "two identities", method: "GetPayslip", tokens: []string{good, good}, code: codes.Unauthenticated, reason: rpc.ReasonIdentityInvalid},
		{name: "missing scope", method: "GetPayslip", tokens: []string{valid("finance.read")}, code: codes.PermissionDenied,
			reason: authz.ReasonMissingScope, meta: map[string]string{"scope": "payroll.read"}},
		{name: "undeclared method", method: "Undeclared", tokens: []string{valid("payroll.read", "finance.read", "finance.write")},
			code: codes.PermissionDenied, reason: authz.ReasonUndeclared},
		{name: "empty policy counts as undeclared", method: "EmptyPolicy", tokens: []string{valid("payroll.read")},
			code: codes.PermissionDenied, reason: authz.ReasonUndeclared},
		{name: "public method needs no scope", method: "WhoAmI", tokens: []string{valid()}, code: codes.OK},
		{name: "public method still needs an identity", method: "WhoAmI", code: codes.Unauthenticated, reason: rpc.ReasonIdentityMissing},
		{name: "salary removed without finance.read", method: "GetPayslip", tokens: []string{good}, code: codes.OK},
		{name: "salary kept with finance.read", method: "GetPayslip", tokens: []string{valid("payroll.read", "finance.read")}, code: codes.OK, wantPaid: true},
		{name: "setting salary without finance.write", method: "GetPayslip", tokens: []string{valid("payroll.read", "finance.read")}, salary: 1,
			code: codes.PermissionDenied, reason: authz.ReasonFieldWrite, meta: map[string]string{"field": "salary", "scope": "finance.write"}},
		{name: "setting a nested salary without finance.write", method: "GetPayslip", tokens: []string{valid("payroll.read", "finance.read")}, salary: 1, nested: true,
			code: codes.PermissionDenied, reason: authz.ReasonFieldWrite, meta: map[string]string{"field": "history[0].salary", "scope": "finance.write"}},
		{name: "setting salary with finance.write", method: "GetPayslip", tokens: []string{valid("payroll.read", "finance.write")}, salary: 1, code: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			for _, tok := range tt.tokens {
				ctx = metadata.AppendToOutgoingContext(ctx, identity.MetadataKey, tok)
			}
			req := dynamicpb.NewMessage(md)
			if tt.salary != 0 {
				target := req
				if tt.nested {
					target = dynamicpb.NewMessage(md)
					req.Mutable(md.Fields().ByName("history")).List().Append(protoreflect.ValueOfMessage(target))
				}
				target.Set(md.Fields().ByName("salary"), protoreflect.ValueOfInt64(tt.salary))
			}
			resp := dynamicpb.NewMessage(md)
			err := conn.Invoke(ctx, "/payrolltest.v1.PayrollService/"+tt.method, req, resp)
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.code)
			}
			if err != nil {
				info, _ := rpc.Details(err)
				if info.GetReason() != tt.reason || info.GetDomain() != domain {
					t.Fatalf("ErrorInfo = %v, want reason %s", info, tt.reason)
				}
				for k, v := range tt.meta {
					if info.GetMetadata()[k] != v {
						t.Errorf("metadata[%s] = %q, want %q", k, info.GetMetadata()[k], v)
					}
				}
				return
			}
			if got := resp.Get(md.Fields().ByName("employee")).String(); got != "users/alice" {
				t.Errorf("handler saw subject %q", got)
			}
			salary := resp.Has(md.Fields().ByName("salary"))
			hist := resp.Get(md.Fields().ByName("history")).List()
			nested := hist.Len() == 1 && hist.Get(0).Message().Has(md.Fields().ByName("salary"))
			months := resp.Get(md.Fields().ByName("by_month")).Map()
			jan := months.Get(protoreflect.ValueOfString("jan").MapKey())
			inMap := jan.IsValid() && jan.Message().Has(md.Fields().ByName("salary"))
			if tt.method == "GetPayslip" && (salary != tt.wantPaid || nested != tt.wantPaid || inMap != tt.wantPaid || months.Len() != 1) {
				t.Errorf("salary present = %v, in history = %v, in by_month = %v (%d entries); want %v", salary, nested, inMap, months.Len(), tt.wantPaid)
			}
		})
	}
}

func TestHealthNeedsNoIdentity(t *testing.T) {
	t.Parallel()
	conn, _ := startPayroll(t, identitytest.Verifier())
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health check without identity: %v", err)
	}
}

// identitytestKey returns the test process's key pair by round-tripping through a signer, so
// that the test can sign expired and wrong-audience tokens with the key services trust.
func identitytestKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub := identitytest.Signer().PublicKey()
	return pub, identitytest.PrivateKey()
}

func TestServiceToServiceCallsCarryTheCaller(t *testing.T) {
	t.Parallel()
	backend, md := startPayroll(t, identitytest.Verifier())
	// The front service's client to the backend forwards the identity of each request.
	fwd := testkit.Dial(t, backend.Target(), grpc.WithPerRPCCredentials(identity.Forward()))
	front, _ := startPayrollForwarding(t, identitytest.Verifier(), fwd)

	tok, err := identitytest.Signer().Sign(identity.Principal{Subject: "users/carol"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), identity.MetadataKey, tok)
	resp := dynamicpb.NewMessage(md)
	if err := front.Invoke(ctx, "/payrolltest.v1.PayrollService/WhoAmI", dynamicpb.NewMessage(md), resp); err != nil {
		t.Fatal(err)
	}
	if got := resp.Get(md.Fields().ByName("employee")).String(); got != "users/carol" {
		t.Fatalf("the backend saw %q, want the original caller users/carol", got)
	}

	// Without forwarding, the backend refuses the front service's call.
	front2, _ := startPayrollForwarding(t, identitytest.Verifier(), testkit.Dial(t, backend.Target()))
	err = front2.Invoke(ctx, "/payrolltest.v1.PayrollService/WhoAmI", dynamicpb.NewMessage(md), dynamicpb.NewMessage(md))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unforwarded call = %v, want UNAUTHENTICATED", err)
	}
}
