package server

import "github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"

// riskSchedules are the due items of risks: the review that falls due.
func (s *Server) riskSchedules() map[string]scheduler.Handler { return nil }
