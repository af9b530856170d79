package idempotency

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the request ID table's schema; the host applies them to every service's
// database.
var Migrations = sqldb.MigrationSet{Table: "quarterdeck_idempotency_migrations", Files: migrations}
