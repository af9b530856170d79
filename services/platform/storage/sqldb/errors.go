package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Errors that InTx returns for driver errors a store did not translate itself.
var (
	// ErrConflict: the transaction kept colliding with concurrent ones; the client may retry.
	ErrConflict = fault.New(fault.Aborted, "CONCURRENCY_CONFLICT",
		"the request collided with concurrent changes; retry it")
	// ErrAlreadyExists: the change would duplicate a unique value.
	ErrAlreadyExists = fault.New(fault.AlreadyExists, "ALREADY_EXISTS",
		"the resource or one of its unique values already exists")
	// ErrUnavailable: the database cannot be reached, or is stopping or starting; the client may
	// retry (with its request ID, a write is applied once).
	ErrUnavailable = fault.New(fault.Unavailable, "DATABASE_UNAVAILABLE",
		"the service cannot reach its database at the moment; retry the request")
)

// translate maps a driver error that is not already a fault to the fault it means, keeping it
// wrapped. Errors of a cancelled context stay as they are: the caller went away.
func translate(ctx context.Context, err error) error {
	if err == nil || fault.As(err) != nil || ctx.Err() != nil {
		return err
	}
	if IsRetryable(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if _, ok := UniqueViolation(err); ok {
		return fmt.Errorf("%w: %w", ErrAlreadyExists, err)
	}
	return Figure(err)
}

// IsOutOfRange reports whether err is an integer overflow in the database: a bigint out of range
// on PostgreSQL (SQLSTATE 22003: a SUM over bigint is numeric, and casting it back fails; so does
// bigint + bigint), "integer overflow" of SUM on SQLite.
func IsOutOfRange(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "22003"
	}
	var se *sqlite.Error
	return errors.As(err, &se) && strings.Contains(se.Error(), "integer overflow")
}

// Figure maps an integer overflow in the database (IsOutOfRange) to FIGURE_OUT_OF_RANGE, keeping
// it wrapped: a sum of amounts the database cannot compute is the client's clear error, never a
// 500 nor a wrapped number. Other errors are returned as they are.
func Figure(err error) error {
	if err != nil && fault.As(err) == nil && IsOutOfRange(err) {
		return fmt.Errorf("%w: %w", money.ErrFigureOutOfRange, err)
	}
	return err
}

// UniqueViolation reports whether err is a unique-key violation and, when it is, which constraint or
// columns the driver named ("cost_centers_code_key" on PostgreSQL, "cost_centers.code" on
// SQLite), so a store can tell which business rule was broken.
func UniqueViolation(err error) (constraint string, ok bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return pg.ConstraintName, true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			// "UNIQUE constraint failed: cost_centers.code"
			msg := se.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			// The driver appends the extended result code: " (2067)" or, for a primary key, " (1555)".
			return strings.TrimSuffix(msg, fmt.Sprintf(" (%d)", se.Code())), true
		}
	}
	return "", false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation: a referenced row is
// missing, or a row that is still referenced was deleted.
func IsForeignKeyViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	// An ON DELETE RESTRICT action fails as a constraint trigger rather than a foreign key.
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY ||
		(se.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER && strings.Contains(se.Error(), "FOREIGN KEY"))
}

// IsRetryable reports whether a transaction failed only because it collided with another one
// and would succeed if run again: a serialization failure or deadlock on PostgreSQL, a busy or
// locked database on SQLite, or (SQLite) a group commit that failed before its COMMIT or a wait
// for one that lasted too long.
func IsRetryable(err error) bool {
	if errors.Is(err, errGroupFailed) || errors.Is(err, errGroupWait) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// IsUnavailable reports whether err means the database could not be reached or is not serving
// — refused or reset connections, a connection lost mid-request, PostgreSQL shutting down,
// starting up or out of connections — rather than that the request itself failed: the same
// request may succeed once the database is back. A request whose connection broke during COMMIT
// may have been applied; a client retries it with its request ID, which the service applies once.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
			"53300": // too many connections
			return true
		}
		return strings.HasPrefix(pg.Code, "08") // connection exception
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
