package auth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/telemetryd/telemetryd"
)

const (
	// issuer is both the iss and the aud of access tokens.
	issuer = "telemetryd"
	// leeway tolerates clock skew between replicas.
	leeway = 30 * time.Second
	// maxTokenLength refuses over-long bearer tokens before any decoding
	// work. Real tokens are a few hundred bytes.
	maxTokenLength = 4096
)

// MinSecretLength is the shortest JWT secret, in bytes, that Bootstrap
// accepts: HS256 wants a key at least as long as its 256-bit output.
const MinSecretLength = 32

// accessClaims are the claims of an access token.
type accessClaims struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	jwt.RegisteredClaims
}

// parser accepts only what signAccess produces, as of the time now
// returns; every option closes a known JWT pitfall (alg confusion, alg
// none, tokens without expiry or minted for another service).
func (s *Service) parser(now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	)
}

var errNotBootstrapped = errors.New("auth: the service has no JWT secret: call Bootstrap first")

func (s *Service) key() ([]byte, error) {
	k := s.secret.Load()
	if k == nil {
		return nil, errNotBootstrapped
	}
	return *k, nil
}

// signAccess returns an access token for acc and when it expires.
func (s *Service) signAccess(acc *telemetryd.Account) (string, time.Time, error) {
	key, err := s.key()
	if err != nil {
		return "", time.Time{}, err
	}
	// JWT times are whole seconds; the returned expiry matches the claim.
	// A token issued within the second the account was last disabled
	// carries the next second, or it would look issued before (see
	// telemetryd.Account.Accepts); the parser's leeway covers that second.
	now := s.now().UTC().Truncate(time.Second)
	if revoked := acc.TokensRevokedAt.Truncate(time.Second); !revoked.IsZero() && !now.After(revoked) {
		now = revoked.Add(time.Second)
	}
	exp := now.Add(s.accessTTL)
	claims := accessClaims{
		Name:  acc.Username,
		Roles: acc.Roles,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   acc.ID,
			Audience:  jwt.ClaimStrings{issuer},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
	}
	if claims.Roles == nil {
		claims.Roles = []string{}
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing access token: %w", err)
	}
	return token, exp, nil
}

// errOnlyExpired says an access token is correctly signed and was valid
// in every other way at its expiry.
var errOnlyExpired = errors.New("access token expired")

// parseAccess verifies an access token and returns its claims. Its errors
// say what failed, for the debug log only; errOnlyExpired when the token
// would have been accepted at the moment it expired.
func (s *Service) parseAccess(token string) (*accessClaims, error) {
	key, err := s.key()
	if err != nil {
		return nil, err
	}
	now := s.now()
	sum := sha256.Sum256([]byte(token))
	if claims, ok := s.verified.get(sum, key, now); ok {
		return claims, nil
	}
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	claims := &accessClaims{}
	_, err = s.parser(s.now).ParseWithClaims(token, claims, keyFunc)
	if errors.Is(err, jwt.ErrTokenExpired) && claims.ExpiresAt != nil {
		// The signature was verified before the claims. Validated again
		// as of its expiry, every other claim must hold too.
		exp := claims.ExpiresAt.Time
		again := &accessClaims{}
		if _, errAtExpiry := s.parser(func() time.Time { return exp }).ParseWithClaims(token, again, keyFunc); errAtExpiry == nil && again.Subject != "" {
			return nil, errOnlyExpired
		}
	}
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	s.verified.add(sum, key, now, claims)
	return claims, nil
}

// verifiedKept bounds the access tokens remembered as verified: more than
// the clients one server sees within an access token's lifetime.
const verifiedKept = 4096

// verifiedAccess remembers the claims of access tokens that verified,
// keyed by the token's SHA-256, until the parser would refuse them as
// expired: a client's next requests with the same token then cost a hash
// instead of an HMAC and a JSON decoding. Only the signature and the
// claims are remembered; whether the account still exists, is enabled
// and holds the roles is checked on every request, as after a fresh parse.
// A verdict holds for the key it was reached with only, so a new secret
// verifies every token afresh.
type verifiedAccess struct {
	once  sync.Once
	cache *lru.Cache[[sha256.Size]byte, verifiedToken]
}

type verifiedToken struct {
	claims *accessClaims
	key    []byte
	// from and until bound when the parser accepts the claims: from the
	// moment they verified (the not-before and issued-at checks only
	// pass more easily later) until the expiry and the leeway.
	from, until time.Time
}

func (v *verifiedAccess) init() {
	v.once.Do(func() { v.cache, _ = lru.New[[sha256.Size]byte, verifiedToken](verifiedKept) }) // fails only for a size below 1
}

// get returns the remembered claims of the token whose hash is sum, when
// they verified with key and the parser would accept them at now.
func (v *verifiedAccess) get(sum [sha256.Size]byte, key []byte, now time.Time) (*accessClaims, bool) {
	v.init()
	t, ok := v.cache.Get(sum)
	if !ok || !bytes.Equal(t.key, key) || now.Before(t.from) || !now.Before(t.until) {
		return nil, false
	}
	return t.claims, true
}

// add remembers claims that verified with key at now.
func (v *verifiedAccess) add(sum [sha256.Size]byte, key []byte, now time.Time, claims *accessClaims) {
	v.init()
	v.cache.Add(sum, verifiedToken{claims: claims, key: key, from: now, until: claims.ExpiresAt.Add(leeway)})
}
