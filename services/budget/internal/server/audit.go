package server

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
)

// audit appends the audit record of the call in ctx changing resource from before to after
// (nil for a create or a delete). It comes after the change's writes (see store.Tx.Audit).
func (s *Server) audit(ctx context.Context, tx store.Tx, req proto.Message, action, resource string, before, after proto.Message) error {
	e, err := audit.NewEntry(ctx, req, action, resource, before, after)
	if err != nil {
		return err
	}
	return tx.Audit(ctx, e)
}
