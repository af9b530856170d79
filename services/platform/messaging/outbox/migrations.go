package outbox

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the outbox schema; the host applies them to every service's database. Their
// version table keeps its first name, that of the platform's own migrations.
var Migrations = sqldb.MigrationSet{Table: "quarterdeck_platform_migrations", Files: migrations}
