package scheduler

import (
	"embed"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the scheduler's schema (scheduled_items); the host applies them to every
// service's database with the platform's other tables (host.PlatformMigrations).
var Migrations = sqldb.MigrationSet{Table: "quarterdeck_scheduler_migrations", Files: migrations}
