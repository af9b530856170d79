package audit

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the audit schema; the host applies them to every service's database, under a
// version table separate from the outbox's so that the two sets evolve independently.
var Migrations = sqldb.MigrationSet{Table: "quarterdeck_audit_migrations", Files: migrations}
