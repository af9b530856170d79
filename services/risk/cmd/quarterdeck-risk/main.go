// Command quarterdeck-risk runs the risk service on its own, for distributed deployments: gRPC on
// QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file) and an external NATS server; it calls
// talent at QUARTERDECK_PEER_TALENT_ADDR about the people an incident's roles name.
//
//	quarterdeck-risk            serve
//	quarterdeck-risk migrate    apply database migrations and exit
package main

import (
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	host.ServiceMain(host.Binary{Domain: risk.Domain, Version: version, GRPCAddr: "127.0.0.1:9003",
		Peers: map[string]string{"talent": "127.0.0.1:9004"}},
		func(s risk.Settings) host.Service { return risk.Configured(s) })
}
