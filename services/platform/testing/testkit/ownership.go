package testkit

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// Principals of the ownership tests: the owner of the resources, another principal holding the
// same scopes, and an administrator holding the service's admin scope too. Each calls with a key
// of its own (`apiKeys/<name>-1`).
const (
	Owner = "principals/owner"
	Other = "principals/other"
	Admin = "principals/admin"
)

// OwnedWrite is a write of an owned resource, for CheckOwnership: Call makes it on conn, on
// the resources fixture F names.
type OwnedWrite[F any] struct {
	// Method is the method's name, e.g. "UpdateBudget".
	Method string
	Call   func(ctx context.Context, conn *grpc.ClientConn, f F) error
}

// Ownership describes a service's BOLA test, for CheckOwnership.
type Ownership[F any] struct {
	// Service is the service as the test runs it; its rules tell which methods are checked.
	Service host.Service
	// Scopes are the scopes of all three principals (the admin holds the admin scope too).
	Scopes []string
	// Setup makes, as the owner on conn, fresh resources for one write; n differs at each call,
	// for ids and codes that must be unique.
	Setup func(t *testing.T, conn *grpc.ClientConn, n string) F
	// State reads, as the owner, everything a write on f could change, to compare before and
	// after a refused write.
	State func(t *testing.T, conn *grpc.ClientConn, f F) []proto.Message
	// Writes are the cases; every checked method of the service needs one.
	Writes []OwnedWrite[F]
}

// CheckOwnership runs o's writes against s, which runs o.Service under the owner write policy:
// another principal is refused with PERMISSION_DENIED, NOT_OWNER, and nothing changes; the owner
// succeeds; on fresh resources, so does a holder of the admin scope. It fails t when a method the
// service's ownership checks has no case, or a case's method is not checked: a write added later
// gets a BOLA case, and the check cannot be dropped from one unnoticed.
func CheckOwnership[F any](t *testing.T, s *Service, o Ownership[F]) {
	t.Helper()
	checked, admin := CheckedMethods(t, o.Service)
	var cased []string
	for _, w := range o.Writes {
		cased = append(cased, w.Method)
		if !slices.Contains(checked, w.Method) {
			t.Errorf("%s has a BOLA case but is not checked against owners", w.Method)
		}
	}
	for _, m := range checked {
		if !slices.Contains(cased, m) {
			t.Errorf("%s is checked against owners but has no BOLA case", m)
		}
	}
	owner := s.ConnOf(t, "apiKeys/owner-1", Owner, o.Scopes...)
	other := s.ConnOf(t, "apiKeys/other-1", Other, o.Scopes...)
	adm := s.ConnOf(t, "apiKeys/admin-1", Admin, append(slices.Clone(o.Scopes), admin)...)
	var n atomic.Int64
	next := func() string { return strconv.FormatInt(n.Add(1), 10) }
	errs := ErrorsOf(s.Domain)
	ctx := context.Background()
	for _, w := range o.Writes {
		t.Run(w.Method, func(t *testing.T) {
			f := o.Setup(t, owner, next())
			before := o.State(t, owner, f)
			err := w.Call(ctx, other, f)
			errs.Assert(t, err, codes.PermissionDenied, ownership.ReasonNotOwner)
			if info, _ := rpc.Details(err); info.GetMetadata()["resource"] == "" || info.GetMetadata()["scope"] != admin {
				t.Errorf("ErrorInfo metadata = %v; want the resource and scope %s", info.GetMetadata(), admin)
			}
			after := o.State(t, owner, f)
			for i := range max(len(before), len(after)) {
				if i >= len(before) || i >= len(after) || !proto.Equal(before[i], after[i]) {
					t.Errorf("a refused %s changed what the owner reads:\n%v\nto\n%v", w.Method, before, after)
					break
				}
			}
			if err := w.Call(ctx, owner, f); err != nil {
				t.Errorf("the owner's %s = %v", w.Method, err)
			}
			if err := w.Call(ctx, adm, o.Setup(t, owner, next())); err != nil {
				t.Errorf("the admin's %s = %v", w.Method, err)
			}
		})
	}
}

// CheckedMethods returns the names of the methods svc checks against owners under the owner
// write policy, sorted, and its admin scope; it fails t when svc declares no ownership or its
// rules do not cover its writes.
func CheckedMethods(t testing.TB, svc host.Service) (methods []string, admin string) {
	t.Helper()
	if svc.Ownership == nil {
		t.Fatalf("%s declares no ownership", svc.Domain)
	}
	_, rules := svc.Ownership(host.Deps{})
	for _, r := range rules {
		ms, a, err := ownership.Classify(r)
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range ms {
			if m.Kind == ownership.Checked {
				methods = append(methods, name)
				admin = a
			}
		}
	}
	sort.Strings(methods)
	return methods, admin
}
