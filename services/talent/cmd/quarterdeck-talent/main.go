// Command quarterdeck-talent runs the talent service on its own, for distributed deployments:
// gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file) and an external NATS server; it
// calls budget at QUARTERDECK_PEER_BUDGET_ADDR.
//
//	quarterdeck-talent            serve
//	quarterdeck-talent migrate    apply database migrations and exit
package main

import (
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	host.ServiceMain(host.Binary{Domain: talent.Domain, Version: version, GRPCAddr: "127.0.0.1:9004",
		Peers: map[string]string{"budget": "127.0.0.1:9001"}},
		func(s talent.Settings) host.Service { return talent.Configured(s) })
}
