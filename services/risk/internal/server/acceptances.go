package server

import "github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"

// acceptanceSchedules are the due items of acceptances: an approved acceptance expiring.
func (s *Server) acceptanceSchedules() map[string]scheduler.Handler { return nil }
