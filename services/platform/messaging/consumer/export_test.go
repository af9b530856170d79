package consumer

import (
	"context"
	"time"
)

// PruneInbox exposes the inbox pruning to the tests.
func (r *Runtime) PruneInbox(ctx context.Context, now time.Time) (int64, error) {
	return r.pruneInbox(ctx, now)
}
