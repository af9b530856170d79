package storesqlite

import "github.com/quarterdeck/quarterdeck/services/budget/internal/store"

// queries are the standard statements without row locks: SQLite has none, and needs none, since
// its writing transactions begin IMMEDIATE (see sqldb) and never interleave.
var queries = func() *store.Queries {
	q := store.StandardQueries().WithoutRowLocks()
	// Nothing to lock: SQLite runs one writing transaction at a time. The statement does nothing,
	// so that the method stays the same on both engines.
	q.LockHierarchy = `SELECT 1`
	return &q
}()
