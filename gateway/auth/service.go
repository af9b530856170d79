package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"

	// The operations API is served by every domain service; linking it here puts its scopes in
	// the catalogue that API keys are checked against.
	_ "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
)

// AdminErrorDomain is the ErrorInfo domain of the ApiKeyService.
const AdminErrorDomain = "iam.quarterdeck.io"

var errKeyNotFound = fault.New(fault.NotFound, "API_KEY_NOT_FOUND", "the API key does not exist")

var (
	errRevokeNotAllowed = fault.New(fault.PermissionDenied, "REVOKE_NOT_ALLOWED",
		"a key may be revoked by its principal or by a caller holding every scope of the key")
	errLastAdminKey = fault.New(fault.FailedPrecondition, "LAST_ADMIN_KEY",
		"the last valid key holding iam.admin cannot be revoked: create another admin key first")
)

// KnownScopes returns every scope declared by the APIs linked into the binary.
func KnownScopes() []string {
	_, scopes := authz.Catalogue(nil, "quarterdeck.")
	return scopes
}

// Service implements quarterdeck.iam.v1.ApiKeyService.
type Service struct {
	iamv1.UnimplementedApiKeyServiceServer
	store *Store
	now   func() time.Time
}

// NewService returns the ApiKeyService on store.
func NewService(store *Store) *Service { return &Service{store: store, now: time.Now} }

// CreateApiKey implements iamv1.ApiKeyServiceServer.
func (s *Service) CreateApiKey(ctx context.Context, req *iamv1.CreateApiKeyRequest) (*iamv1.ApiKey, error) {
	in := req.GetApiKey()
	now := s.now().UTC()
	known := map[string]bool{}
	for _, sc := range KnownScopes() {
		known[sc] = true
	}
	var vs []fault.Violation
	for i, sc := range in.GetScopes() {
		if !known[sc] {
			vs = append(vs, fault.Violation{Field: fmt.Sprintf("api_key.scopes[%d]", i), Reason: "UNKNOWN_SCOPE",
				Description: "no API declares the scope " + sc})
		}
	}
	if in.GetExpireTime() != nil && !in.GetExpireTime().AsTime().After(now) {
		vs = append(vs, fault.Violation{Field: "api_key.expire_time", Reason: "NOT_IN_FUTURE", Description: "the expiry must be in the future"})
	}
	if len(vs) > 0 {
		return nil, fault.Invalid(vs...)
	}
	// A key never grants more than its creator holds, so that a narrowly scoped admin key
	// cannot mint a broader one.
	caller, _ := identity.FromContext(ctx)
	for _, sc := range in.GetScopes() {
		if !caller.Has(sc) {
			return nil, fault.New(fault.PermissionDenied, "SCOPE_NOT_HELD", "a key cannot grant the scope "+sc+", which its creator does not hold").With("scope", sc)
		}
	}
	id, err := NewKeyID()
	if err != nil {
		return nil, err
	}
	secret, err := NewKeySecret(id)
	if err != nil {
		return nil, err
	}
	// A key belongs to the principal of its creator unless the request names another, which the
	// interceptors allow only to holders of iam.principals (the field's write scope).
	principal := in.GetPrincipal()
	if principal == "" {
		principal = caller.Who()
	}
	if principal == "" {
		return nil, fault.New(fault.PermissionDenied, "PRINCIPAL_UNKNOWN", "the caller has no principal to give the key")
	}
	k := &Key{ID: id, DisplayName: in.GetDisplayName(), Hash: HashKey(secret), Prefix: displayPrefix(secret),
		Scopes: dedupe(in.GetScopes()), Principal: principal, Creator: identity.Actor(ctx), CreateTime: now.Truncate(time.Microsecond)}
	if in.GetExpireTime() != nil {
		t := in.GetExpireTime().AsTime().UTC().Truncate(time.Microsecond)
		k.ExpireTime = &t
	}
	if err := s.store.Create(ctx, k); err != nil {
		return nil, err
	}
	out := keyToProto(k)
	out.Key = secret
	return out, nil
}

// GetApiKey implements iamv1.ApiKeyServiceServer.
func (s *Service) GetApiKey(ctx context.Context, req *iamv1.GetApiKeyRequest) (*iamv1.ApiKey, error) {
	k, err := s.store.Get(ctx, strings.TrimPrefix(req.GetName(), "apiKeys/"))
	if errors.Is(err, ErrKeyNotFound) {
		return nil, errKeyNotFound.With("name", req.GetName())
	}
	if err != nil {
		return nil, err
	}
	return keyToProto(k), nil
}

// ListApiKeys implements iamv1.ApiKeyServiceServer.
func (s *Service) ListApiKeys(ctx context.Context, req *iamv1.ListApiKeysRequest) (*iamv1.ListApiKeysResponse, error) {
	sum := pagetoken.Checksum(req)
	key, err := pagetoken.Decode(req.GetPageToken(), sum, 1)
	if err != nil {
		return nil, err
	}
	after := ""
	if len(key) == 1 {
		after = key[0]
	}
	size := pagetoken.Size(req.GetPageSize())
	ks, err := s.store.List(ctx, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &iamv1.ListApiKeysResponse{}
	if len(ks) > size {
		ks = ks[:size]
		resp.NextPageToken = pagetoken.Encode(sum, ks[size-1].ID)
	}
	for _, k := range ks {
		resp.ApiKeys = append(resp.ApiKeys, keyToProto(k))
	}
	return resp, nil
}

// RevokeApiKey implements iamv1.ApiKeyServiceServer.
func (s *Service) RevokeApiKey(ctx context.Context, req *iamv1.RevokeApiKeyRequest) (*iamv1.ApiKey, error) {
	caller, _ := identity.FromContext(ctx)
	k, err := s.store.RevokeChecked(ctx, strings.TrimPrefix(req.GetName(), "apiKeys/"), s.now().UTC().Truncate(time.Microsecond),
		func(k *Key) error {
			// Its own principal may give a key up; anyone else must hold at least what the key
			// grants, so that a narrow admin key cannot cut off a broader one.
			if caller.Who() != "" && k.Principal == caller.Who() {
				return nil
			}
			for _, sc := range k.Scopes {
				if !caller.Has(sc) {
					return errRevokeNotAllowed.With("name", req.GetName()).With("scope", sc)
				}
			}
			return nil
		})
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return nil, errKeyNotFound.With("name", req.GetName())
	case errors.Is(err, ErrLastAdminKey):
		return nil, errLastAdminKey.With("name", req.GetName())
	}
	if err != nil {
		return nil, err
	}
	return keyToProto(k), nil
}

func keyToProto(k *Key) *iamv1.ApiKey {
	out := &iamv1.ApiKey{
		Name: "apiKeys/" + k.ID, DisplayName: k.DisplayName, Scopes: k.Scopes, KeyPrefix: k.Prefix,
		Creator: k.Creator, CreateTime: timestamppb.New(k.CreateTime), Principal: k.Principal,
	}
	if k.ExpireTime != nil {
		out.ExpireTime = timestamppb.New(*k.ExpireTime)
	}
	if k.RevokeTime != nil {
		out.RevokeTime = timestamppb.New(*k.RevokeTime)
	}
	if k.LastUseTime != nil {
		out.LastUseTime = timestamppb.New(*k.LastUseTime)
	}
	return out
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Admin serves the ApiKeyService over gRPC on its own listener, behind the same interceptors
// as every domain service: the gateway's REST routes for it, and external gRPC clients, reach
// it like any other backend, with a verified identity and the iam.admin scope.
type Admin struct {
	srv    *rpc.Server
	lis    net.Listener
	served chan error
}

// AdminOptions configures the admin server.
type AdminOptions struct {
	Store    *Store
	Identity *identity.Verifier
	Logger   *slog.Logger
	// Addr is the listen address (default 127.0.0.1:0, a loopback port of the system's choice).
	Addr string
}

// StartAdmin starts serving the ApiKeyService.
func StartAdmin(opts AdminOptions) (*Admin, error) {
	if opts.Identity == nil {
		return nil, errors.New("auth: the admin server needs an identity verifier")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	srv, err := rpc.NewServer(rpc.Options{Domain: AdminErrorDomain, Logger: opts.Logger, Identity: opts.Identity})
	if err != nil {
		return nil, err
	}
	iamv1.RegisterApiKeyServiceServer(srv, NewService(opts.Store))
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("auth: admin listener on %s: %w", opts.Addr, err)
	}
	a := &Admin{srv: srv, lis: lis, served: make(chan error, 1)}
	go func() { a.served <- srv.Serve(lis) }()
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	srv.Health.SetServingStatus(iamv1.ApiKeyService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return a, nil
}

// Addr is the gRPC address of the admin server.
func (a *Admin) Addr() string { return a.lis.Addr().String() }

// Stop stops the server, letting in-flight calls finish until ctx is done.
func (a *Admin) Stop(ctx context.Context) error {
	a.srv.Health.Shutdown()
	stopped := make(chan struct{})
	go func() {
		a.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		a.srv.Stop()
		<-stopped
	}
	if err := <-a.served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

var _ iamv1.ApiKeyServiceServer = (*Service)(nil)
