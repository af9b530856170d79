// Package sqlstore gives a service's store transaction what every mutation writes besides the
// change itself, in the same transaction: its events (the outbox), its audit record, and its
// request ID (AIP-155). Each service's store embeds Tx in its own transaction type, so that the
// four services write these the same way on both engines.
package sqlstore

import (
	"context"
	"database/sql"

	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Tx is a service transaction on a database of Engine.
type Tx struct {
	*sql.Tx
	Engine sqldb.Engine
}

// Emit writes events to the outbox.
func (t Tx) Emit(ctx context.Context, msgs ...outbox.Message) error {
	return outbox.Insert(ctx, t.Tx, msgs...)
}

// Requests records request IDs in the transaction, for idempotency.Do.
func (t Tx) Requests() idempotency.Querier { return t.Tx }

// Audit appends e to the audit trail. Call it after the change's own row-locking writes: the
// audit trail's order argument depends on it (docs/audit.md).
func (t Tx) Audit(ctx context.Context, e audit.Entry) error {
	_, err := audit.Append(ctx, t.Tx, t.Engine, e)
	return err
}
