//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
)

// TestStandaloneOnePort checks that the gateway's one port serves gRPC (h2c, proxied to the
// budget service) next to REST, with reflection on, and the API reference page at /docs.
func TestStandaloneOnePort(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{prefix: "quarterdeck"})
	defer p.Stop()
	conn, err := grpc.NewClient(strings.TrimPrefix(p.rest, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(adminKey)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()

	cc, err := budgetv1.NewBudgetServiceClient(conn).CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
		CostCenter: &budgetv1.CostCenter{DisplayName: "Over gRPC", Code: "CC-GRPC"}})
	if err != nil {
		t.Fatalf("CreateCostCenter over gRPC: %v", err)
	}
	if got := getCostCenter(t, p.rest, cc.GetName()); got["displayName"] != "Over gRPC" {
		t.Errorf("REST GET of the gRPC-created cost centre = %v", got)
	}

	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err) // on io.EOF the server ended the stream: Recv returns its status
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "quarterdeck.budget.v1.BudgetService") {
		t.Errorf("reflection lists %v", names)
	}
	_ = stream.CloseSend()

	page, err := httpClient.Get(p.rest + "/docs/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(html), "swagger-ui-bundle.js") {
		t.Errorf("/docs/ = %d\n%s", page.StatusCode, html)
	}
}

// bearer sends an API key with every gRPC call, as the Authorization metadata.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
