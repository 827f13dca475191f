package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

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

// parser accepts only what signAccess produces; every option closes a
// known JWT pitfall (alg confusion, alg none, tokens without expiry or
// minted for another service).
func (s *Service) parser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(s.now),
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

// parseAccess verifies an access token and returns its claims. Its errors
// say what failed, for the debug log only.
func (s *Service) parseAccess(token string) (*accessClaims, error) {
	key, err := s.key()
	if err != nil {
		return nil, err
	}
	claims := &accessClaims{}
	_, err = s.parser().ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	return claims, nil
}
