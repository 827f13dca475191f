package auth_test

import (
	"context"
	"strings"
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
	for _, username := range []string{telemetryd.AdminUsername, "ghost"} {
		t.Run("after five failures "+username+" gets too many requests", func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			for range 5 {
				_, err := e.svc.Login(ctx, username, "wrong password!!")
				requireCode(t, telemetryd.EUNAUTHENTICATED, err)
				assert.Equal(t, "invalid username or password", telemetryd.ErrorMessage(err))
			}
			_, err := e.svc.Login(ctx, username, adminPassword)
			requireCode(t, telemetryd.ETOOMANYREQUESTS, err)

			_, err = e.svc.Login(ctx, "someone-else", "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err) // other usernames are unaffected

			e.clock.Advance(time.Minute)
			_, err = e.svc.Login(ctx, telemetryd.AdminUsername, adminPassword)
			require.NoError(t, err, "the window has passed")
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
