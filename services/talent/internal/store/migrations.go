package store

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the talent schema, under the version table the host gives a service's own
// migrations (<domain>_migrations).
var Migrations = sqldb.MigrationSet{Table: "talent_migrations", Files: migrations}
