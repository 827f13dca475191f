// Package auth signs accounts in and decides what each caller may do.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Store is what the service needs of the storage: accounts and roles,
// tokens by hash, and the setting holding a generated JWT secret.
type Store interface {
	store.AccessControl
	store.Tokens
	store.Settings
}

// Counter counts events for the daily telemetry; *activity.Recorder is one.
type Counter interface {
	Count(name string)
}

// Defaults used when a Config field is zero.
const (
	DefaultAccessTokenTTL  = 15 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultPasswordCost    = 12
)

// accessCacheTTL bounds how long a change made by another replica sharing
// the store takes to reach this one: role definitions, role assignments
// and disabled accounts are read through the cache on every request.
const accessCacheTTL = 5 * time.Second

// touchInterval spaces the last-use writes of an API token, so a busy
// script does not cost one store write per request.
const touchInterval = time.Minute

// Config configures a Service. Only Store is required.
type Config struct {
	// Store keeps accounts, roles, tokens and the generated JWT secret.
	Store Store
	// Logger receives one "audit" line at Info for every account, role and
	// token change, and the reason of each rejected token at Debug. nil
	// discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccessTokenTTL is the lifetime of access tokens; zero means
	// DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens; zero means
	// DefaultRefreshTokenTTL.
	RefreshTokenTTL time.Duration
	// Counter counts telemetryd.ActivityLogins and telemetryd.ActivityFailedLogins (logins
	// refused for their credentials; throttled ones, which check no
	// password, do not count); nil counts nothing.
	Counter Counter
	// PasswordCost is the bcrypt cost of new password hashes; zero means
	// DefaultPasswordCost. Tests lower it (bcrypt.MinCost) for speed.
	PasswordCost int
}

// Service signs accounts in, authenticates bearer tokens and performs the
// account, role and token operations of the API. Every operation checks
// the caller's permissions itself, taking the caller from the context
// (see NewContext and Middleware). Besides the codes each method names,
// any method may return a store error: EUNAVAILABLE when the store cannot
// be reached, EINTERNAL otherwise. It is safe for concurrent use; create
// it with New and call Bootstrap before serving.
//
// At most GOMAXPROCS bcrypt hashes and comparisons run at once per
// Service, behind a short queue shared fairly between source addresses
// (see bcryptGate); Login and CreateAccount return EUNAVAILABLE at once
// when it has no room, or when their context ends while they wait.
type Service struct {
	store      Store
	log        *slog.Logger
	now        func() time.Time
	accessTTL  time.Duration
	refreshTTL time.Duration
	counter    Counter
	cost       int

	secret   atomic.Pointer[[]byte] // set by Bootstrap
	verified verifiedAccess
	cache    accessCache
	throttle *throttle

	// apiTokenMu serializes counting and creating API tokens, so
	// concurrent requests cannot pass MaxAPITokens together.
	apiTokenMu sync.Mutex

	// bcrypt admits password hashes and comparisons (see withBcryptSlot).
	bcrypt *bcryptGate

	// dummyHash is compared against when a login names an unknown
	// account, so answering takes as long as for a known one.
	dummyHash func() []byte
}

// New returns a Service configured by c. It does not touch the store;
// Bootstrap does.
func New(c Config) *Service {
	s := &Service{
		store:      c.Store,
		log:        c.Logger,
		now:        c.Now,
		accessTTL:  c.AccessTokenTTL,
		refreshTTL: c.RefreshTokenTTL,
		counter:    c.Counter,
		cost:       c.PasswordCost,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.accessTTL <= 0 {
		s.accessTTL = DefaultAccessTokenTTL
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = DefaultRefreshTokenTTL
	}
	if s.cost == 0 {
		s.cost = DefaultPasswordCost
	}
	s.cache = accessCache{load: s.store.Access, now: s.now}
	s.throttle = &throttle{}
	s.bcrypt = newBcryptGate(max(1, runtime.GOMAXPROCS(0)))
	s.dummyHash = sync.OnceValue(func() []byte {
		h, err := hashPassword(randomString(24), s.cost)
		if err != nil {
			panic("auth: hashing a random password: " + err.Error()) // only for an invalid cost
		}
		return h
	})
	return s
}

func (s *Service) count(name string) {
	if s.counter != nil {
		s.counter.Count(name)
	}
}

// audit writes one audit line. Callers pass names and ids only, never a
// password, token value or hash.
func (s *Service) audit(ctx context.Context, action, actor, target string, attrs ...slog.Attr) {
	all := append([]slog.Attr{
		slog.String("action", action),
		slog.String("actor", actor),
		slog.String("target", target),
	}, attrs...)
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", all...)
}

// randomBytes returns n bytes from the operating system's CSPRNG, which
// never fails on supported platforms (crypto/rand.Read panics instead).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randomString returns n random bytes in unpadded base64url: URL-, header-
// and shell-safe.
func randomString(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

// hashToken is how opaque token values are stored and looked up: a fast
// hash suffices because the values carry 256 bits of randomness.
func hashToken(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// publicAccount returns a copy of a safe to hand to callers: without its
// password hash.
func publicAccount(a *telemetryd.Account) *telemetryd.Account {
	c := *a
	c.PasswordHash = ""
	c.Roles = slices.Clone(a.Roles)
	if c.Roles == nil {
		c.Roles = []string{}
	}
	return &c
}

func publicRole(r *telemetryd.Role) *telemetryd.Role {
	c := *r
	c.Permissions = slices.Clone(r.Permissions)
	if c.Permissions == nil {
		c.Permissions = []telemetryd.Permission{}
	}
	return &c
}

// publicToken returns a copy of t without its hash.
func publicToken(t *telemetryd.Token) *telemetryd.Token {
	c := *t
	c.Hash = ""
	return &c
}
