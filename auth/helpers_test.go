package auth_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/internal/logbuffer"
	"github.com/telemetryd/telemetryd/internal/testclock"
	"github.com/telemetryd/telemetryd/store/embedded"
)

const (
	adminPassword = "correct horse battery"
	testSecret    = "0123456789abcdef0123456789abcdef-test-secret"
	userPassword  = "a long enough password"
)

var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// counter records activity counts.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *counter) Count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[name]++
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[name]
}

// env is one Service on a real embedded store.
type env struct {
	svc     *auth.Service
	store   *embedded.Store
	dir     string
	clock   *testclock.Clock
	logs    *logbuffer.Buffer
	counter *counter
}

// newEnv opens an embedded store in a fresh directory and bootstraps a
// Service on it with adminPassword and testSecret.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := embedded.Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	e := &env{store: st, dir: dir, clock: testclock.New(start), logs: &logbuffer.Buffer{}, counter: &counter{}}
	e.svc = e.newService()
	_, err = e.svc.Bootstrap(context.Background(), adminPassword, testSecret)
	require.NoError(t, err)
	return e
}

// newService returns another Service on the same store and clock, as a
// second replica or a restart would have.
func (e *env) newService() *auth.Service {
	return auth.New(auth.Config{
		Store:          e.store,
		Logger:         slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            e.clock.Now,
		AccessTokenTTL: 15 * time.Minute,
		Counter:        e.counter,
		PasswordCost:   bcrypt.MinCost,
	})
}

func (e *env) dbFile() string { return filepath.Join(e.dir, embedded.FileName) }

// login logs username in and returns its tokens.
func (e *env) login(t *testing.T, username, password string) *auth.Tokens {
	t.Helper()
	tokens, err := e.svc.Login(context.Background(), username, password)
	require.NoError(t, err)
	return tokens
}

// as returns a context whose caller is the bearer of token.
func (e *env) as(t *testing.T, token string) context.Context {
	t.Helper()
	p, err := e.svc.Authenticate(context.Background(), token)
	require.NoError(t, err)
	return auth.NewContext(context.Background(), p)
}

// admin returns a context whose caller is the built-in admin.
func (e *env) admin(t *testing.T) context.Context {
	t.Helper()
	return e.as(t, e.login(t, telemetryd.AdminUsername, adminPassword).AccessToken)
}

// user creates an account holding a new role granting perms (no role for
// none) and returns a context whose caller is that account.
func (e *env) user(t *testing.T, username string, perms ...telemetryd.Permission) context.Context {
	t.Helper()
	ctx := e.admin(t)
	var roles []string
	if len(perms) > 0 {
		role := username + "-role"
		_, err := e.svc.CreateRole(ctx, role, perms)
		require.NoError(t, err)
		roles = []string{role}
	}
	_, err := e.svc.CreateAccount(ctx, username, userPassword, roles)
	require.NoError(t, err)
	return e.as(t, e.login(t, username, userPassword).AccessToken)
}

// requireCode fails unless err carries the domain code.
func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, telemetryd.ErrorCode(err), "error: %v", err)
}
