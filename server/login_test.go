package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/internal/testclock"
	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store/embedded"
)

// post sends a JSON POST with an optional Authorization header value and
// further headers as name, value pairs.
func (e *env) post(path, authorization, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.Host = req.Header.Get("Host") // net/http sends req.Host, never the header
	return e.do(req)
}

// restTokens is the body of a successful POST /api/auth/login.
type restTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// restLogin signs in through POST /api/auth/login, which must succeed.
func (e *env) restLogin(username, password string, headers ...string) restTokens {
	e.t.Helper()
	res := e.post("/api/auth/login", "", fmt.Sprintf(`{"username": %q, "password": %q}`, username, password), headers...)
	require.Equal(e.t, http.StatusOK, res.status, "body: %s", res.body)
	var tokens restTokens
	res.json(e.t.(*testing.T), &tokens)
	return tokens
}

func cookieOf(t *testing.T, res response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == server.RefreshCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", server.RefreshCookie, res.header)
	return nil
}

func TestRESTSignInRefreshAndSignOut(t *testing.T) {
	e := start(t)
	res := e.post("/api/auth/login", "", `{"username": "admin", "password": "`+adminPassword+`"}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	var tokens restTokens
	res.json(t, &tokens)
	require.True(t, strings.HasPrefix(tokens.RefreshToken, "tdr_"))
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", tokens.AccessToken).status, "the access token reads telemetry")
	assert.Contains(t, e.logs.String(), `"action":"login","actor":"admin"`, "a REST login is audited as the mutation's is")

	cookie := cookieOf(t, res)
	assert.Equal(t, tokens.RefreshToken, cookie.Value)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.Equal(t, "/api/auth", cookie.Path)
	assert.False(t, cookie.Secure, "plain http to a loopback host cannot carry a Secure cookie")
	assert.Positive(t, cookie.MaxAge)

	t.Run("the refresh token stays valid across refreshes", func(t *testing.T) {
		for range 3 {
			res := e.post("/api/auth/refresh", "Bearer "+tokens.RefreshToken, "")
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			var renewed restTokens
			res.json(t, &renewed)
			assert.Empty(t, renewed.RefreshToken)
			assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", renewed.AccessToken).status)
		}
	})
	t.Run("the cookie refreshes too", func(t *testing.T) {
		res := e.post("/api/auth/refresh", "", "", "Cookie", server.RefreshCookie+"="+tokens.RefreshToken)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	})
	t.Run("a refresh without a token names what it needs", func(t *testing.T) {
		res := e.post("/api/auth/refresh", "", "")
		require.Equal(t, http.StatusUnauthorized, res.status)
		assert.Contains(t, res.errorMessage(t), "refresh token is required")
	})
	t.Run("an access token is no refresh token", func(t *testing.T) {
		res := e.post("/api/auth/refresh", "Bearer "+tokens.AccessToken, "")
		require.Equal(t, http.StatusUnauthorized, res.status)
		assert.Equal(t, "invalid or expired token", res.errorMessage(t))
	})
	t.Run("logout ends the session and clears the cookie", func(t *testing.T) {
		res := e.post("/api/auth/logout", "", "", "Cookie", server.RefreshCookie+"="+tokens.RefreshToken)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		cleared := cookieOf(t, res)
		assert.Empty(t, cleared.Value)
		assert.Negative(t, cleared.MaxAge)
		assert.Equal(t, "/api/auth", cleared.Path)
		assert.Equal(t, http.StatusUnauthorized, e.post("/api/auth/refresh", "Bearer "+tokens.RefreshToken, "").status)
		assert.Equal(t, http.StatusOK, e.post("/api/auth/logout", "Bearer "+tokens.RefreshToken, "").status, "twice is harmless")
	})
	t.Run("bad credentials get 401", func(t *testing.T) {
		res := e.post("/api/auth/login", "", `{"username": "admin", "password": "wrong password!!"}`)
		require.Equal(t, http.StatusUnauthorized, res.status)
		assert.Equal(t, "invalid username or password", res.errorMessage(t))
		assert.Empty(t, res.header.Values("Set-Cookie"))
	})
	t.Run("the cookie is Secure for any other host", func(t *testing.T) {
		res := e.post("/api/auth/login", "", `{"username": "admin", "password": "`+adminPassword+`"}`, "Host", "telemetry.example.com")
		require.Equal(t, http.StatusOK, res.status)
		assert.True(t, cookieOf(t, res).Secure)
	})
	assert.NotContains(t, e.logs.String(), tokens.RefreshToken, "no refresh token reaches the logs")
	assert.NotContains(t, e.logs.String(), adminPassword)
}

func TestTheInfrahubKeyHeaderCarriesAPITokens(t *testing.T) {
	e := start(t)
	reader := e.account("reader", "telemetry-reader")
	var created struct {
		CreateAPIToken struct{ Token string } `json:"createApiToken"`
	}
	e.mustGraphQL(reader, `mutation { createApiToken(name: "infrahubctl") { token } }`, nil, &created)
	key := created.CreateAPIToken.Token
	other := e.account("other", "telemetry-reader")

	withKey := func(key, authorization string) response {
		req, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/snapshots", nil)
		require.NoError(t, err)
		req.Header.Set("X-INFRAHUB-KEY", key)
		if authorization != "" {
			req.Header.Set("Authorization", "Bearer "+authorization)
		}
		return e.do(req)
	}
	assert.Equal(t, http.StatusOK, withKey(key, "").status, "REST")
	assert.Equal(t, http.StatusOK, withKey(key, reader).status, "both headers naming the same caller")

	res := withKey(key, other)
	assert.Equal(t, http.StatusUnauthorized, res.status, "headers naming different callers")
	assert.Equal(t, "invalid or expired token", res.errorMessage(t))
	assert.Equal(t, http.StatusUnauthorized, withKey(reader, "").status, "the header carries API tokens only")
	assert.Equal(t, http.StatusUnauthorized, withKey("tdk_unknown", "").status)

	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(`{"query": "{ me { username } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-INFRAHUB-KEY", key)
	gql := e.do(req)
	require.Equal(t, http.StatusOK, gql.status)
	assert.JSONEq(t, `{"data": {"me": {"username": "reader"}}}`, string(gql.body), "GraphQL")
}

func startWithClock(t *testing.T) (*env, *testclock.Clock) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := testclock.New(time.Now())
	return startWith(t, st, options{now: clock.Now}), clock
}

func TestAnExpiredAccessTokenGetsExpiredSignature(t *testing.T) {
	e, clock := startWithClock(t)
	tokens := e.restLogin("admin", adminPassword)
	clock.Advance(16 * time.Minute) // the 15-minute TTL and the 30 s leeway

	res := e.get("/api/telemetry/snapshots", tokens.AccessToken)
	require.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, "Expired Signature", res.errorMessage(t), "Infrahub's clients refresh on exactly this message")
	assert.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
	out, _ := e.graphql(tokens.AccessToken, `{ me { id } }`, nil)
	require.NotEmpty(t, out.Errors)
	assert.Equal(t, "UNAUTHENTICATED", out.code())
	assert.Equal(t, "Expired Signature", out.Errors[0].Message)

	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "telemetryd", "aud": "telemetryd", "sub": "someone", "exp": clock.Now().Add(-time.Hour).Unix(),
	}).SignedString([]byte(strings.Repeat("x", 32)))
	require.NoError(t, err)
	res = e.get("/api/telemetry/snapshots", forged)
	require.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, "invalid or expired token", res.errorMessage(t), "an expired token signed with another key learns nothing more")

	refreshed := e.post("/api/auth/refresh", "Bearer "+tokens.RefreshToken, "")
	require.Equal(t, http.StatusOK, refreshed.status, "body: %s", refreshed.body)
	var renewed restTokens
	refreshed.json(t, &renewed)
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", renewed.AccessToken).status, "the refresh recovers")
}

func TestAStrangersFailedLoginsDoNotLockTheOwnerOut(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	// The test's requests come through a "proxy" on loopback that names
	// the client in X-Forwarded-For.
	e := startWith(t, st, options{trustedProxies: "127.0.0.1/32"})
	attempt := func(client, password string) response {
		return e.post("/api/auth/login", "", `{"username": "admin", "password": "`+password+`"}`, "X-Forwarded-For", client)
	}
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, attempt("203.0.113.66", "wrong password!!").status)
	}

	t.Run("the attacker's view: throttled, even with the right password", func(t *testing.T) {
		res := attempt("203.0.113.66", adminPassword)
		require.Equal(t, http.StatusTooManyRequests, res.status)
		assert.Equal(t, "too many failed logins; try again in a minute", res.errorMessage(t))
		assert.Equal(t, "60", res.header.Get("Retry-After"))
		assert.Contains(t, e.logs.String(), `"path":"/api/auth/login","route":"POST /api/auth/login","status":429`)
		assert.Contains(t, e.logs.String(), `"source":"203.0.113.66"`, "the access log names the source")
	})
	t.Run("the owner's view: signed in from elsewhere", func(t *testing.T) {
		res := attempt("198.51.100.10", adminPassword)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var out gqlResult
		body := `{"query": "mutation { login(username: \"admin\", password: \"` + adminPassword + `\") { accessToken } }"}`
		gql := e.post("/graphql", "", body, "X-Forwarded-For", "198.51.100.10")
		require.NoError(t, json.Unmarshal(gql.body, &out))
		assert.Empty(t, out.Errors, "the login mutation follows the same rule: %s", gql.body)
	})
}

func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	e := start(t) // no trusted proxies: the peer is the source
	for i := range 5 {
		res := e.post("/api/auth/login", "", `{"username": "admin", "password": "wrong password!!"}`, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		require.Equal(t, http.StatusUnauthorized, res.status)
	}
	res := e.post("/api/auth/login", "", `{"username": "admin", "password": "wrong password!!"}`, "X-Forwarded-For", "192.0.2.99")
	assert.Equal(t, http.StatusTooManyRequests, res.status, "a forged X-Forwarded-For does not dodge the throttle")
	assert.Contains(t, e.logs.String(), `"source":"127.0.0.1"`)
	assert.NotContains(t, e.logs.String(), `"source":"192.0.2.`)
}

func TestALoginFloodLeavesRoomForTheOwner(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	// A real bcrypt cost, so checking passwords is the bottleneck.
	e := startWith(t, st, options{trustedProxies: "127.0.0.1/32", passwordCost: 10})

	ownerLogin := func() (response, time.Duration) {
		began := time.Now()
		res := e.post("/api/auth/login", "", `{"username": "admin", "password": "`+adminPassword+`"}`, "X-Forwarded-For", "198.51.100.10")
		return res, time.Since(began)
	}
	_, alone := ownerLogin()

	const flood = 400
	statuses := make(chan int, flood)
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			res := e.post("/api/auth/login", "", fmt.Sprintf(`{"username": "stranger%03d", "password": "wrong password!!"}`, i),
				"X-Forwarded-For", "203.0.113.66")
			statuses <- res.status
		})
	}
	// The flood is under way once its first answers arrive.
	got := map[int]int{}
	for range 10 {
		got[<-statuses]++
	}
	owner, waited := ownerLogin()
	checkedBefore := strings.Count(e.logs.String(), `"action":"login.failed"`)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		got[s]++
	}
	t.Logf("the owner's login took %v during a flood of %d logins (%v alone); flood answers by status: %v", waited, flood, alone, got)

	require.Equal(t, http.StatusOK, owner.status, "body: %s", owner.body)
	assert.Less(t, checkedBefore, 40, "the owner waited behind a short queue, not behind the whole flood")
	// Refused at once: 503 when the queue had no room, 429 once the
	// source's attempts under way reached its ceiling.
	assert.Greater(t, got[http.StatusServiceUnavailable]+got[http.StatusTooManyRequests], flood*9/10, "most of the flood is refused at once: %v", got)
	assert.Equal(t, flood, got[http.StatusServiceUnavailable]+got[http.StatusUnauthorized]+got[http.StatusTooManyRequests], "%v", got)
}

func TestSpendingARotatedRefreshTokenTwiceEndsTheSession(t *testing.T) {
	e := start(t)
	var login struct {
		Login struct{ RefreshToken string } `json:"login"`
	}
	e.mustGraphQL("", `mutation { login(username: "admin", password: "`+adminPassword+`") { refreshToken } }`, nil, &login)
	refresh := func(token string) (string, string) {
		var out struct {
			RefreshToken struct{ RefreshToken string } `json:"refreshToken"`
		}
		res, _ := e.graphql("", `mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }`, map[string]any{"t": token})
		if len(res.Errors) > 0 {
			return "", res.code()
		}
		require.NoError(t, json.Unmarshal(res.Data, &out))
		return out.RefreshToken.RefreshToken, ""
	}
	stolen := login.Login.RefreshToken
	thiefs, code := refresh(stolen)
	require.Empty(t, code)

	_, code = refresh(stolen) // the victim's client spends it again
	assert.Equal(t, "UNAUTHENTICATED", code)
	_, code = refresh(thiefs)
	assert.Equal(t, "UNAUTHENTICATED", code, "the token the thief got from it is revoked with the session")
	assert.Equal(t, http.StatusUnauthorized, e.post("/api/auth/refresh", "Bearer "+thiefs, "").status)
	assert.Contains(t, e.logs.String(), `"action":"session.reuse"`)
}
