package server

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/idempotency"
)

// idempotentRequest is a request that carries an AIP-155 request_id.
type idempotentRequest interface {
	proto.Message
	GetRequestId() string
}

// once runs fn in one transaction, at most once per request ID of req (AIP-155): a client that
// retries after a lost response gets the response of the committed call back instead of a second
// change. The claim on the ID is written in the same transaction as fn's changes, so a failed
// call releases it. method is the full gRPC method name, which keeps one ID from answering
// another method.
func once[T proto.Message](ctx context.Context, s *Server, method string, req idempotentRequest,
	fn func(ctx context.Context, tx store.Tx) (T, error)) (T, error) {
	var out T
	err := s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = idempotency.Do(ctx, tx.Requests(), req.GetRequestId(), method, req, func() (T, error) {
			return fn(ctx, tx)
		})
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
