package auth_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("the right password returns working tokens", func(t *testing.T) {
		tokens := e.login(t, telemetryd.AdminUsername, adminPassword)
		assert.True(t, strings.HasPrefix(tokens.RefreshToken, "tdr_"))
		assert.NoError(t, canRead(t, e.svc, tokens.AccessToken))
	})
	cases := []struct {
		name, username, password string
	}{
		{"a wrong password is refused", telemetryd.AdminUsername, "wrong password!!"},
		{"an unknown username is refused alike", "ghost", adminPassword},
		{"an invalid username is refused alike", "no such user", adminPassword},
		{"an over-long password sharing the first 72 bytes is refused", telemetryd.AdminUsername, adminPassword + strings.Repeat("x", 72)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Login(ctx, tc.username, tc.password)
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
			assert.Equal(t, "invalid username or password", telemetryd.ErrorMessage(err))
		})
	}
	assert.Equal(t, 1, e.counter.get(activity.Logins))
	assert.Equal(t, len(cases), e.counter.get(activity.FailedLogins))
}

func TestLoginsAreThrottledPerUsername(t *testing.T) {
	for _, tc := range []struct {
		username, password string
		afterWindow        string // the error code once the window has passed
	}{
		{telemetryd.AdminUsername, adminPassword, ""},
		{"ghost", "wrong password!!", telemetryd.EUNAUTHENTICATED},
	} {
		t.Run("after five failures "+tc.username+" gets too many requests", func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			for range 5 {
				_, err := e.svc.Login(ctx, tc.username, "wrong password!!")
				requireCode(t, telemetryd.EUNAUTHENTICATED, err)
				assert.Equal(t, "invalid username or password", telemetryd.ErrorMessage(err))
			}
			_, err := e.svc.Login(ctx, tc.username, tc.password)
			requireCode(t, telemetryd.ETOOMANYREQUESTS, err)
			assert.Equal(t, 5, e.counter.get(activity.FailedLogins), "a throttled attempt checks no password and is no failed login")

			_, err = e.svc.Login(ctx, "someone-else", "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err) // other usernames are unaffected

			e.clock.Advance(time.Minute - time.Nanosecond)
			_, err = e.svc.Login(ctx, tc.username, tc.password)
			requireCode(t, telemetryd.ETOOMANYREQUESTS, err)

			e.clock.Advance(time.Nanosecond)
			_, err = e.svc.Login(ctx, tc.username, tc.password)
			assert.Equal(t, tc.afterWindow, telemetryd.ErrorCode(err), "the window has passed: %v", err)
		})
	}

	t.Run("a success clears the failures", func(t *testing.T) {
		e := newEnv(t)
		ctx := context.Background()
		for range 4 {
			_, err := e.svc.Login(ctx, telemetryd.AdminUsername, "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
		e.login(t, telemetryd.AdminUsername, adminPassword)
		for range 5 {
			_, err := e.svc.Login(ctx, telemetryd.AdminUsername, "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
	})
}

func TestRefreshRotatesTheRefreshToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.login(t, telemetryd.AdminUsername, adminPassword)

	e.clock.Advance(time.Minute)
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken)
	assert.Equal(t, start.Add(time.Minute+15*time.Minute), second.ExpiresAt)
	require.NoError(t, canRead(t, e.svc, second.AccessToken))

	_, err = e.svc.Refresh(ctx, first.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	assert.Equal(t, "invalid or expired token", telemetryd.ErrorMessage(err))

	third, err := e.svc.Refresh(ctx, second.RefreshToken)
	require.NoError(t, err)

	t.Run("an access token is no refresh token", func(t *testing.T) {
		_, err := e.svc.Refresh(ctx, third.AccessToken)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	t.Run("an API token is no refresh token", func(t *testing.T) {
		_, value, err := e.svc.CreateAPIToken(e.as(t, third.AccessToken), "ci", time.Time{})
		require.NoError(t, err)
		_, err = e.svc.Refresh(ctx, value)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	t.Run("a refresh token expires after 30 days", func(t *testing.T) {
		e.clock.Advance(30 * 24 * time.Hour)
		_, err := e.svc.Refresh(ctx, third.RefreshToken)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
}

func TestLogoutRevokesTheRefreshToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tokens := e.login(t, telemetryd.AdminUsername, adminPassword)

	ok, err := e.svc.Logout(ctx, tokens.RefreshToken)
	require.NoError(t, err)
	assert.True(t, ok)
	_, err = e.svc.Refresh(ctx, tokens.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)

	ok, err = e.svc.Logout(ctx, tokens.RefreshToken)
	require.NoError(t, err)
	assert.False(t, ok, "logging out twice is harmless")
	ok, err = e.svc.Logout(ctx, "tdr_unknown")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestConcurrentGuessesDoNotSlipPastTheThrottle(t *testing.T) {
	e := newEnv(t)
	const guesses = 20
	codes := make(chan string, guesses)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			<-begin
			_, err := e.svc.Login(context.Background(), telemetryd.AdminUsername, fmt.Sprintf("wrong password %02d", i))
			codes <- telemetryd.ErrorCode(err)
		})
	}
	close(begin)
	wg.Wait()
	close(codes)

	got := map[string]int{}
	for c := range codes {
		got[c]++
	}
	assert.Equal(t, map[string]int{telemetryd.EUNAUTHENTICATED: 5, telemetryd.ETOOMANYREQUESTS: guesses - 5}, got,
		"only five guesses reach the password check")
	assert.Equal(t, 5, e.counter.get(activity.FailedLogins))
}

func TestOverLongUsernamesTakeNoMemory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A GraphQL body may be a megabyte; the throttle once kept every
	// username it was sent.
	const logins, size = 100, 1 << 20
	filler := strings.Repeat("a", size)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range logins {
		_, err := e.svc.Login(ctx, fmt.Sprintf("%03d%s", i, filler), "wrong password!!")
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		assert.Equal(t, "invalid username or password", telemetryd.ErrorMessage(err))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, growth, int64(logins*size/8), "the heap grew by %d bytes", growth)

	t.Run("they are refused without entering the throttle", func(t *testing.T) {
		for range 10 {
			_, err := e.svc.Login(ctx, filler, "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
	})
}
