package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

func TestResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// within stands for a store's Within: it runs fn and fails the commit when told to.
	commitErr := errors.New("commit failed")
	within := func(fail bool) func(context.Context, func(context.Context, string) error) error {
		return func(ctx context.Context, fn func(context.Context, string) error) error {
			if err := fn(ctx, "tx"); err != nil {
				return err
			}
			if fail {
				return commitErr
			}
			return nil
		}
	}
	got, err := sqlstore.Result(ctx, within(false), func(_ context.Context, tx string) (string, error) { return tx + " result", nil })
	if err != nil || got != "tx result" {
		t.Errorf("Result = %q, %v; want %q, nil", got, err, "tx result")
	}
	// A failed commit loses the result: the caller must not answer with what did not commit.
	got, err = sqlstore.Result(ctx, within(true), func(context.Context, string) (string, error) { return "lost", nil })
	if !errors.Is(err, commitErr) || got != "" {
		t.Errorf("Result after a failed commit = %q, %v; want \"\", %v", got, err, commitErr)
	}
	fnErr := errors.New("refused")
	got, err = sqlstore.Result(ctx, within(false), func(context.Context, string) (string, error) { return "partial", fnErr })
	if !errors.Is(err, fnErr) || got != "" {
		t.Errorf("Result of a failing fn = %q, %v; want \"\", %v", got, err, fnErr)
	}
}
