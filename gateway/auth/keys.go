package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the gateway's schema.
var Migrations = sqldb.MigrationSet{Table: "gateway_migrations", Files: migrations}

// OpenDatabase opens and migrates the gateway's database: a sqlite: file or a postgres:// URL,
// whose tables live in the schema "gateway".
func OpenDatabase(ctx context.Context, url string, opts sqldb.Options) (*sqldb.DB, error) {
	if opts.Schema == "" {
		opts.Schema = "gateway"
	}
	db, err := sqldb.Open(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("gateway database: %w", err)
	}
	// The outbox carries the gateway's events (API key revocations) to NATS, as every
	// service's does.
	if err := db.MigrateSets(ctx, Migrations, outbox.Migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("gateway database: %w", err)
	}
	if err := resolvePrincipals(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("gateway database: %w", err)
	}
	return db, nil
}

// resolvePrincipals gives every key made before keys had principals the principal of whoever
// made it: the OIDC user, or the key that made it, following chains of keys; a key whose maker
// is unknown becomes its own principal. Once done, it finds nothing to do.
func resolvePrincipals(ctx context.Context, db *sqldb.DB) error {
	if _, err := db.ExecContext(ctx, `UPDATE api_keys SET principal = creator WHERE principal = '' AND creator LIKE 'users/%'`); err != nil {
		return fmt.Errorf("resolve api key principals: %w", err)
	}
	for {
		res, err := db.ExecContext(ctx, `UPDATE api_keys SET principal = (
				SELECT p.principal FROM api_keys p WHERE 'apiKeys/' || p.id = api_keys.creator)
			WHERE principal = '' AND EXISTS (
				SELECT 1 FROM api_keys p WHERE 'apiKeys/' || p.id = api_keys.creator AND p.principal <> '')`)
		if err != nil {
			return fmt.Errorf("resolve api key principals: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			break
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE api_keys SET principal = 'apiKeys/' || id WHERE principal = ''`); err != nil {
		return fmt.Errorf("resolve api key principals: %w", err)
	}
	return nil
}

// KeyPrefix starts every generated API key, so that secret scanners and people recognise one.
const KeyPrefix = "qdk_"

// Key is a stored API key.
type Key struct {
	ID          string
	DisplayName string
	// Hash is the hex SHA-256 of the key. A generated key has 256 random bits, so a fast hash is
	// enough: there is nothing to brute-force, unlike a password, and a lookup costs one hash.
	Hash   string
	Prefix string
	Scopes []string
	// Principal is who the key belongs to (users/{sub}, principals/{id}): who acts when it is
	// used.
	Principal   string
	Creator     string
	CreateTime  time.Time
	ExpireTime  *time.Time
	RevokeTime  *time.Time
	LastUseTime *time.Time
}

// ErrKeyNotFound is returned for an id or hash that matches no key.
var ErrKeyNotFound = errors.New("api key not found")

// HashKey returns the stored form of a key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewKeySecret returns a new key for id: KeyPrefix, the id and 256 random bits.
func NewKeySecret(id string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api key: %w", err)
	}
	return KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// NewKeyID returns a random key id that matches the resource name pattern.
func NewKeyID() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api key id: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// displayPrefix is the part of a key kept to recognise it: short enough to reveal nothing
// useful of a 256-bit secret.
func displayPrefix(key string) string {
	n := len(KeyPrefix) + 8
	if !strings.HasPrefix(key, KeyPrefix) {
		n = 6
	}
	if len(key) < n {
		return key
	}
	return key[:n]
}

// Store keeps API keys in the gateway's database. Its SQL is the same on both engines.
//
// A revocation writes an ApiKeyRevoked event into the outbox in the same transaction, for the
// relay to publish (see StartEvents): every gateway replica drops the key from its cache when the
// event arrives.
type Store struct {
	db     *sqldb.DB
	events *outbox.Factory

	mu        sync.Mutex
	committed []func() // called after a commit that wrote an event (wakes the relay)
	revoked   []func(id string)
}

// NewStore returns a store on a migrated database (see OpenDatabase), whose events go out under
// the default subject prefix (see SetEventPrefix).
func NewStore(db *sqldb.DB) *Store {
	f, _ := outbox.NewFactory(events.DefaultPrefix, nil)
	return &Store{db: db, events: f}
}

// SetEventPrefix sets the subject prefix of the events the store writes.
func (s *Store) SetEventPrefix(prefix string) error {
	f, err := outbox.NewFactory(prefix, nil)
	if err != nil {
		return err
	}
	s.events = f
	return nil
}

// OnCommit registers f, called after each commit that wrote an event.
func (s *Store) OnCommit(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, f)
}

// OnRevoke registers f, called with the key's id after each commit that revoked a key, so that
// this process's caches drop it at once, before its event comes back.
func (s *Store) OnRevoke(f func(id string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = append(s.revoked, f)
}

func (s *Store) afterRevoke(id string) {
	s.mu.Lock()
	committed, revoked := slices.Clone(s.committed), slices.Clone(s.revoked)
	s.mu.Unlock()
	for _, f := range revoked {
		f(id)
	}
	for _, f := range committed {
		f()
	}
}

const keyColumns = `id, display_name, key_hash, key_prefix, scopes, creator, create_time, expire_time, revoke_time, last_use_time, principal`

// Create inserts k.
func (s *Store) Create(ctx context.Context, k *Key) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if k.Principal == "" {
			return fmt.Errorf("insert api key %s: no principal", k.ID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			k.ID, k.DisplayName, k.Hash, k.Prefix, strings.Join(k.Scopes, " "), k.Creator, k.CreateTime.UTC(),
			utcPtr(k.ExpireTime), utcPtr(k.RevokeTime), utcPtr(k.LastUseTime), k.Principal)
		if err != nil {
			return fmt.Errorf("insert api key %s: %w", k.ID, err)
		}
		return nil
	})
}

// Get returns the key with id.
func (s *Store) Get(ctx context.Context, id string) (*Key, error) {
	return s.one(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
}

// ByHash returns the key whose hash is hash.
func (s *Store) ByHash(ctx context.Context, hash string) (*Key, error) {
	return s.one(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1`, hash)
}

func (s *Store) one(ctx context.Context, query, arg string) (*Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// List returns up to limit keys whose id sorts after afterID, by id.
func (s *Store) List(ctx context.Context, afterID string, limit int) ([]*Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var keys []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// AdminScope is the scope of the API key admin API; the last valid key holding it cannot be
// revoked, so that the platform keeps an administrator.
const AdminScope = "iam.admin"

// ErrLastAdminKey refuses the revocation of the last valid key holding AdminScope.
var ErrLastAdminKey = errors.New("the last valid key holding " + AdminScope + " cannot be revoked")

// valid reports whether k has not expired at t.
func (k *Key) valid(t time.Time) bool { return k.ExpireTime == nil || k.ExpireTime.After(t) }

// Revoke sets the revoke time of key id unless it has one, and returns the key. The revocation
// and its ApiKeyRevoked event commit together; revoking a revoked key changes nothing and
// publishes nothing.
func (s *Store) Revoke(ctx context.Context, id string, at time.Time) (*Key, error) {
	return s.RevokeChecked(ctx, id, at, nil)
}

// RevokeChecked is Revoke after check has accepted the key, read in the revocation's
// transaction, and refusing with ErrLastAdminKey to revoke the last valid key holding
// AdminScope. A nil check revokes unconditionally (the operator's own tools).
func (s *Store) RevokeChecked(ctx context.Context, id string, at time.Time, check func(*Key) error) (*Key, error) {
	var (
		k       *Key
		changed bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// Revocations run one at a time, so that two of them cannot each leave the other's key
		// as the last admin key and together leave none.
		if err := sqlstore.DialectOf(s.db.Engine()).Lock(ctx, tx, "quarterdeck-gateway-api-key-revocation"); err != nil {
			return err
		}
		if check != nil {
			cur, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
			if errors.Is(err, sql.ErrNoRows) {
				return ErrKeyNotFound
			}
			if err != nil {
				return err
			}
			if err := check(cur); err != nil {
				return err
			}
			if cur.RevokeTime == nil && cur.valid(at) && slices.Contains(cur.Scopes, AdminScope) {
				var others int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE id <> $1 AND revoke_time IS NULL
					AND (expire_time IS NULL OR expire_time > $2) AND (' ' || scopes || ' ') LIKE '% `+AdminScope+` %'`,
					id, at.UTC()).Scan(&others); err != nil {
					return fmt.Errorf("count admin keys: %w", err)
				}
				if others == 0 {
					return ErrLastAdminKey
				}
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $2 WHERE id = $1 AND revoke_time IS NULL`, id, at.UTC())
		if err != nil {
			return fmt.Errorf("revoke api key %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("revoke api key %s: %w", id, err)
		}
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrKeyNotFound
		}
		if err != nil {
			return err
		}
		if changed = n > 0; !changed {
			return nil
		}
		msg, err := s.events.New(ctx, &iamv1.ApiKeyRevoked{ApiKey: keyToProto(k), Version: 2}, "apiKeys/"+k.ID, 2)
		if err != nil {
			return err
		}
		return outbox.Insert(ctx, tx, msg)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.afterRevoke(id)
	}
	return k, nil
}

// Touch records that key id authenticated a request at t.
func (s *Store) Touch(ctx context.Context, id string, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_use_time = $2 WHERE id = $1`, id, t.UTC()); err != nil {
		return fmt.Errorf("touch api key %s: %w", id, err)
	}
	return nil
}

// PutBootstrap makes k the bootstrap key: inserted when there is none, else its hash, prefix
// and scopes replaced and any revocation lifted, so that setting QUARTERDECK_BOOTSTRAP_API_KEY
// always yields a working admin key with exactly that value.
func (s *Store) PutBootstrap(ctx context.Context, k *Key) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL, $8)
			ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash, key_prefix = excluded.key_prefix,
				scopes = excluded.scopes, expire_time = NULL, revoke_time = NULL, principal = excluded.principal`,
			k.ID, k.DisplayName, k.Hash, k.Prefix, strings.Join(k.Scopes, " "), k.Creator, k.CreateTime.UTC(), k.Principal)
		if err != nil {
			return fmt.Errorf("put bootstrap api key: %w", err)
		}
		return nil
	})
}

// SetScopes replaces the scopes of key id.
func (s *Store) SetScopes(ctx context.Context, id string, scopes []string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE api_keys SET scopes = $2 WHERE id = $1`, id, strings.Join(scopes, " ")); err != nil {
		return fmt.Errorf("set scopes of api key %s: %w", id, err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanKey(r scanner) (*Key, error) {
	var (
		k                 Key
		scopes            string
		expire, rev, used sql.NullTime
	)
	if err := r.Scan(&k.ID, &k.DisplayName, &k.Hash, &k.Prefix, &scopes, &k.Creator, &k.CreateTime, &expire, &rev, &used, &k.Principal); err != nil {
		return nil, err
	}
	k.Scopes = strings.Fields(scopes)
	k.CreateTime = k.CreateTime.UTC()
	k.ExpireTime, k.RevokeTime, k.LastUseTime = timePtr(expire), timePtr(rev), timePtr(used)
	return &k, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func utcPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}
