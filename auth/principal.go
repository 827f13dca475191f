package auth

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// AccessToken is the TokenKind of a principal authenticated by a JWT
// access token; API tokens give telemetryd.APIToken.
const AccessToken telemetryd.TokenKind = "access"

// Principal is the authenticated caller of one request.
type Principal struct {
	// AccountID is the id of the caller's account, which never changes.
	AccountID string
	// Username is the account's username when the request was
	// authenticated, for audit lines and messages.
	Username string
	// Roles are the roles in effect: for an access token those it carries
	// that the account still holds, for an API token the account's current
	// roles.
	Roles []string
	// Permissions are what Roles grant under the current role definitions.
	Permissions []telemetryd.Permission
	// TokenKind is AccessToken or telemetryd.APIToken.
	TokenKind telemetryd.TokenKind
}

// Can reports whether the principal holds perm; SUPER_ADMIN holds every
// permission.
func (p *Principal) Can(perm telemetryd.Permission) bool {
	return telemetryd.Grants(p.Permissions, perm)
}

type contextKey int

const (
	principalKey contextKey = iota
	authErrorKey
	sourceKeyCtx
)

// WithSource returns ctx carrying the network address the request came
// from. The server computes it once per request (see server.SourceOf);
// Login throttles failures and admits bcrypt work per source.
func WithSource(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, sourceKeyCtx, addr)
}

// Source returns the address WithSource put in ctx; the zero Addr, one
// unknown source, without one.
func Source(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(sourceKeyCtx).(netip.Addr)
	return a
}

// NewContext returns ctx carrying p as the caller.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// FromContext returns the caller ctx carries, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey).(*Principal)
	return p, ok && p != nil
}

// withAuthError returns ctx recording why the request's bearer token was
// refused.
func withAuthError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrorKey, err)
}

// AuthError returns why Middleware refused the request's bearer token: an
// EUNAUTHENTICATED error for a bad token (REST answers 401 with
// WWW-Authenticate: Bearer), or an EUNAVAILABLE one when the store could
// not be asked. nil when the request had no Authorization header or its
// token was accepted.
func AuthError(ctx context.Context) error {
	err, _ := ctx.Value(authErrorKey).(error)
	return err
}

// Authenticated returns the caller. Without one it returns the error
// Middleware recorded (see AuthError), or else EUNAUTHENTICATED.
func Authenticated(ctx context.Context) (*Principal, error) {
	if p, ok := FromContext(ctx); ok {
		return p, nil
	}
	if err := AuthError(ctx); err != nil {
		return nil, err
	}
	return nil, telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "authentication required")
}

// Require returns the caller when it holds perm (SUPER_ADMIN holds every
// permission). EUNAUTHENTICATED (or the error AuthError records) without
// a caller; EFORBIDDEN naming perm when the caller lacks it.
func Require(ctx context.Context, perm telemetryd.Permission) (*Principal, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Can(perm) {
		return nil, telemetryd.Errorf(telemetryd.EFORBIDDEN, "requires permission %s", perm)
	}
	return p, nil
}

// requireAny is Require for operations open to holders of any of perms.
func requireAny(ctx context.Context, perms ...telemetryd.Permission) (*Principal, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	for _, perm := range perms {
		if p.Can(perm) {
			return p, nil
		}
	}
	names := make([]string, len(perms))
	for i, perm := range perms {
		names[i] = string(perm)
	}
	return nil, telemetryd.Errorf(telemetryd.EFORBIDDEN, "requires permission %s", strings.Join(names, " or "))
}

// APIKeyHeader carries an API token the way Infrahub's clients send one.
const APIKeyHeader = "X-INFRAHUB-KEY"

// Middleware authenticates the request's "Authorization: Bearer <token>"
// header and its "X-INFRAHUB-KEY: tdk_…" header, and passes the request on
// with the caller in its context (see FromContext), or, for a bad token,
// with the reason in its context (see AuthError). When both headers come
// they must name the same account, else the request is refused as for a
// bad token; the caller is then the one of the Authorization header. A
// request with neither passes on anonymous. It never answers a request
// itself: the transports decide what an absent caller means.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header, key := r.Header.Get("Authorization"), r.Header.Get(APIKeyHeader)
		if header == "" && key == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if p, err := s.authenticateHeaders(ctx, header, key); err != nil {
			ctx = withAuthError(ctx, err)
		} else {
			ctx = NewContext(ctx, p)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authenticateHeaders returns the caller named by the Authorization and
// X-INFRAHUB-KEY header values, either of which may be empty.
func (s *Service) authenticateHeaders(ctx context.Context, header, key string) (*Principal, error) {
	var bearer *Principal
	if header != "" {
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "the Authorization header must be \"Bearer <token>\"")
		}
		p, err := s.Authenticate(ctx, strings.TrimSpace(token))
		if err != nil {
			return nil, err
		}
		bearer = p
	}
	if key == "" {
		return bearer, nil
	}
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, APITokenPrefix) {
		return nil, s.refuse(ctx, APIKeyHeader+" without an API token", nil)
	}
	p, err := s.Authenticate(ctx, key)
	if err != nil {
		return nil, err
	}
	if bearer == nil {
		return p, nil
	}
	if bearer.AccountID != p.AccountID {
		return nil, s.refuse(ctx, "Authorization and "+APIKeyHeader+" name different accounts", nil)
	}
	return bearer, nil
}
