// Command quarterdeck-budget runs the budget service on its own, for distributed deployments:
// gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file), an external NATS server. Under
// QUARTERDECK_BUDGET_WRITE_POLICY=owner it calls talent at QUARTERDECK_PEER_TALENT_ADDR for the
// members of the teams that own cost centres and budgets.
//
//	quarterdeck-budget            serve
//	quarterdeck-budget migrate    apply database migrations and exit
package main

import (
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	host.ServiceMain(host.Binary{Domain: budget.Domain, Version: version, GRPCAddr: "127.0.0.1:9001",
		Peers: map[string]string{"talent": "127.0.0.1:9004"}},
		func(s budget.Settings) host.Service { return budget.Configured(s) })
}
