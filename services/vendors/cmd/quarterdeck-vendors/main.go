// Command quarterdeck-vendors runs the vendors service on its own, for distributed deployments:
// gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file), an external NATS server, and the
// budget service it calls at QUARTERDECK_PEER_BUDGET_ADDR. Under QUARTERDECK_VENDORS_WRITE_POLICY=owner
// it calls talent at QUARTERDECK_PEER_TALENT_ADDR for the members of the teams that own vendors
// and evaluations.
//
//	quarterdeck-vendors            serve
//	quarterdeck-vendors migrate    apply database migrations and exit
package main

import (
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	host.ServiceMain(host.Binary{Domain: vendors.Domain, Version: version, GRPCAddr: "127.0.0.1:9002",
		Peers: map[string]string{"budget": "127.0.0.1:9001", "talent": "127.0.0.1:9004"}},
		func(s vendors.Settings) host.Service { return vendors.Configured(s) })
}
