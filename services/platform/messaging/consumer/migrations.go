package consumer

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the consumer runtime's schema; the host applies them to every service's
// database.
var Migrations = sqldb.MigrationSet{Table: "quarterdeck_consumer_migrations", Files: migrations}
