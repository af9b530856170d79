package server

import (
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
)

// Incidents implements riskv1.IncidentServiceServer on the same store, clock and settings as the
// risk register's Server. Until each method is written, the embedded
// UnimplementedIncidentServiceServer answers it with UNIMPLEMENTED.
type Incidents struct {
	riskv1.UnimplementedIncidentServiceServer
	*Server
}

// Incidents returns the incident API of the server.
func (s *Server) Incidents() *Incidents { return &Incidents{Server: s} }
