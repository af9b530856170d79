package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BootstrapID is the id of the bootstrap admin key, `apiKeys/bootstrap`.
const BootstrapID = "bootstrap"

// BootstrapPrincipal is the principal of the bootstrap key, and so of the keys it mints: the
// platform's administrator.
const BootstrapPrincipal = "principals/admin"

// MinBootstrapKeyLen is the least length of a key given in QUARTERDECK_BOOTSTRAP_API_KEY.
const MinBootstrapKeyLen = 32

// Bootstrap makes sure the platform has an admin key holding scopes (every known scope, at
// each start, so that the admin key keeps up with new APIs):
//
//   - with key set (QUARTERDECK_BOOTSTRAP_API_KEY), that key becomes the bootstrap key, even if
//     an earlier one was revoked; repeating it at every start changes nothing else;
//   - without, a key is generated on the first start only and returned, for the caller to show
//     once; later starts return "" and keep the stored key, revoked or not.
func Bootstrap(ctx context.Context, store *Store, key string, scopes []string) (created string, err error) {
	if key != "" && len(key) < MinBootstrapKeyLen {
		return "", fmt.Errorf("QUARTERDECK_BOOTSTRAP_API_KEY must be at least %d characters", MinBootstrapKeyLen)
	}
	if key != "" && looksLikeJWT(key) {
		return "", errors.New("QUARTERDECK_BOOTSTRAP_API_KEY must not look like a JWT (eyJ….….…)")
	}
	if key == "" {
		_, err := store.Get(ctx, BootstrapID)
		if err == nil {
			return "", store.SetScopes(ctx, BootstrapID, scopes)
		}
		if !errors.Is(err, ErrKeyNotFound) {
			return "", err
		}
		if created, err = NewKeySecret(BootstrapID); err != nil {
			return "", err
		}
		key = created
	}
	err = store.PutBootstrap(ctx, &Key{
		ID: BootstrapID, DisplayName: "Bootstrap admin key", Hash: HashKey(key), Prefix: displayPrefix(key),
		Scopes: scopes, Principal: BootstrapPrincipal, Creator: "system", CreateTime: time.Now().UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		return "", err
	}
	return created, nil
}
