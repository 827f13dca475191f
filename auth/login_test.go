package auth_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
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
	assert.Equal(t, 1, e.counter.get(telemetryd.ActivityLogins))
	assert.Equal(t, len(cases), e.counter.get(telemetryd.ActivityFailedLogins))
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
			assert.Equal(t, 5, e.counter.get(telemetryd.ActivityFailedLogins), "a throttled attempt checks no password and is no failed login")

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

func TestSpendingARotatedRefreshTokenAgainEndsItsSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stolen := e.login(t, telemetryd.AdminUsername, adminPassword)
	other := e.login(t, telemetryd.AdminUsername, adminPassword) // another session of the account

	// The thief refreshes first; the victim's client then spends the same
	// token again (or the other way round: the server cannot tell).
	thief, err := e.svc.Refresh(ctx, stolen.RefreshToken)
	require.NoError(t, err)
	thiefNext, err := e.svc.Refresh(ctx, thief.RefreshToken)
	require.NoError(t, err)

	_, err = e.svc.Refresh(ctx, stolen.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	assert.Equal(t, "invalid or expired token", telemetryd.ErrorMessage(err))
	assert.Contains(t, e.logs.String(), "action=session.reuse")

	_, err = e.svc.Refresh(ctx, thiefNext.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	_, err = e.svc.RefreshAccess(ctx, thiefNext.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err) // every token that came from the spent one is revoked

	_, err = e.svc.Refresh(ctx, other.RefreshToken)
	require.NoError(t, err, "the account's other sessions go on")
}

func TestRefreshAccessKeepsTheRefreshToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tokens := e.login(t, telemetryd.AdminUsername, adminPassword)
	for range 3 {
		e.clock.Advance(20 * time.Minute)
		renewed, err := e.svc.RefreshAccess(ctx, tokens.RefreshToken)
		require.NoError(t, err, "Infrahub's clients reuse the refresh token")
		assert.Empty(t, renewed.RefreshToken)
		assert.Equal(t, e.clock.Now().Truncate(time.Second).Add(15*time.Minute), renewed.ExpiresAt)
		require.NoError(t, canRead(t, e.svc, renewed.AccessToken))
	}

	ok, err := e.svc.Logout(ctx, tokens.RefreshToken)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = e.svc.RefreshAccess(ctx, tokens.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err) // logout ends the session

	t.Run("a disabled account's session stops", func(t *testing.T) {
		e.user(t, "reader", telemetryd.ReadTelemetry)
		readerTokens := e.login(t, "reader", userPassword)
		_, err := e.svc.SetAccountDisabled(e.admin(t), "reader", true)
		require.NoError(t, err)
		_, err = e.svc.RefreshAccess(ctx, readerTokens.RefreshToken)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	t.Run("and the session expires after 30 days", func(t *testing.T) {
		fresh := e.login(t, telemetryd.AdminUsername, adminPassword)
		e.clock.Advance(30 * 24 * time.Hour)
		_, err := e.svc.RefreshAccess(ctx, fresh.RefreshToken)
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
			for {
				_, err := e.svc.Login(context.Background(), telemetryd.AdminUsername, fmt.Sprintf("wrong password %02d", i))
				// A guess the busy password queue sheds checked nothing and
				// took no throttle attempt: the client tries again.
				if code := telemetryd.ErrorCode(err); code != telemetryd.EUNAVAILABLE {
					codes <- code
					return
				}
			}
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
	assert.Equal(t, 5, e.counter.get(telemetryd.ActivityFailedLogins))
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

// from returns a context of a request from addr.
func from(addr string) context.Context {
	return auth.WithSource(context.Background(), netip.MustParseAddr(addr))
}

func TestAStrangerCannotLockAnAccountOut(t *testing.T) {
	e := newEnv(t)
	attacker, owner := from("203.0.113.66"), from("198.51.100.10")
	for range 5 {
		_, err := e.svc.Login(attacker, telemetryd.AdminUsername, "wrong password!!")
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	}

	t.Run("the attacker is throttled, even with the right password", func(t *testing.T) {
		_, err := e.svc.Login(attacker, telemetryd.AdminUsername, adminPassword)
		requireCode(t, telemetryd.ETOOMANYREQUESTS, err)
		assert.Equal(t, "too many failed logins; try again in a minute", telemetryd.ErrorMessage(err))
	})
	t.Run("the owner signs in from elsewhere", func(t *testing.T) {
		_, err := e.svc.Login(owner, telemetryd.AdminUsername, adminPassword)
		require.NoError(t, err)
	})
	t.Run("an IPv6 attacker cannot dodge it within its /64", func(t *testing.T) {
		v6 := func(host string) context.Context { return from("2001:db8:1:2::" + host) }
		for range 5 {
			_, err := e.svc.Login(v6("a"), telemetryd.AdminUsername, "wrong password!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
		_, err := e.svc.Login(v6("b"), telemetryd.AdminUsername, adminPassword)
		requireCode(t, telemetryd.ETOOMANYREQUESTS, err)
		_, err = e.svc.Login(from("2001:db8:1:3::a"), telemetryd.AdminUsername, adminPassword)
		require.NoError(t, err, "another /64 is another source")
	})
	t.Run("a minute later the attacker may try again", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		_, err := e.svc.Login(attacker, telemetryd.AdminUsername, "wrong password!!")
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
}

func TestPasswordSprayingIsThrottled(t *testing.T) {
	t.Run("one source guessing at many usernames stops after 30", func(t *testing.T) {
		e := newEnv(t)
		sprayer := from("203.0.113.66")
		for i := range 30 {
			_, err := e.svc.Login(sprayer, fmt.Sprintf("user%02d", i), "Spring2026!!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
		_, err := e.svc.Login(sprayer, "user99", "Spring2026!!!")
		requireCode(t, telemetryd.ETOOMANYREQUESTS, err)
		_, err = e.svc.Login(from("198.51.100.10"), telemetryd.AdminUsername, adminPassword)
		require.NoError(t, err, "the owner elsewhere is unaffected")
	})
	t.Run("past 300 failures across the server only sources without failures may try", func(t *testing.T) {
		e := newEnv(t)
		for i := range 300 {
			_, err := e.svc.Login(from(fmt.Sprintf("10.0.%d.%d", i/200, i%200)), fmt.Sprintf("user%03d", i), "Spring2026!!!")
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		}
		_, err := e.svc.Login(from("10.0.0.1"), telemetryd.AdminUsername, adminPassword)
		requireCode(t, telemetryd.ETOOMANYREQUESTS, err)
		_, err = e.svc.Login(from("198.51.100.10"), telemetryd.AdminUsername, adminPassword)
		require.NoError(t, err, "a source with no failure still signs in")
	})
}
