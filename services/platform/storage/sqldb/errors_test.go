package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// TestIsUnavailable: a database that cannot be reached or is not serving is told apart from a
// request that failed, so that the client gets UNAVAILABLE (503) and retries, not a 500.
func TestIsUnavailable(t *testing.T) {
	// A real refused connection: a port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := pgconn.Connect(ctx, "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=2")
	if refused == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("begin: %w", refused), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up or shutting down", fmt.Errorf("get: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"other", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	// The transaction runner turns it into the fault, keeping the cause for the log.
	err = translate(context.Background(), fmt.Errorf("begin: %w", &pgconn.PgError{Code: "57P01"}))
	if fe := fault.As(err); fe == nil || fe.Kind != fault.Unavailable || fe.Reason != "DATABASE_UNAVAILABLE" {
		t.Fatalf("translate = %v, want DATABASE_UNAVAILABLE", err)
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		t.Fatalf("translate lost the cause: %v", err)
	}
}
