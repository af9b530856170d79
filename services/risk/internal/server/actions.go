package server

import "github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"

// actionSchedules are the due items of mitigation actions: an action falling overdue.
func (s *Server) actionSchedules() map[string]scheduler.Handler { return nil }
