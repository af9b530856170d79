package consumer

import (
	"context"
	"time"
)

// PruneInbox exposes the inbox pruning to the tests.
func (r *Runtime) PruneInbox(ctx context.Context, now time.Time) (int64, error) {
	return r.pruneInbox(ctx, now)
}

// Partition exposes the applier of a partition key to the tests.
func Partition(key string, n int) int { return partition(key, n) }
