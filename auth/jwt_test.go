package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// claimsFor returns the claims the server would issue for the account now.
func claimsFor(accountID, username string, roles ...string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   "telemetryd",
		"aud":   []string{"telemetryd"},
		"sub":   accountID,
		"name":  username,
		"roles": roles,
		"iat":   start.Unix(),
		"nbf":   start.Unix(),
		"exp":   start.Add(10 * time.Minute).Unix(),
		"jti":   uuid.NewString(),
	}
}

func with(c jwt.MapClaims, change func(jwt.MapClaims)) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	change(out)
	return out
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

// alterPayload replaces the token's payload, keeping its header and
// signature.
func alterPayload(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(raw, &payload))
	change(payload)
	raw, err = json.Marshal(payload)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestAuthenticateRefusesBadAccessTokens(t *testing.T) {
	e := newEnv(t)
	readerCtx := e.user(t, "reader", telemetryd.ReadTelemetry)
	reader, _ := auth.FromContext(readerCtx)
	valid := claimsFor(reader.AccountID, "reader", "reader-role")
	secret := []byte(testSecret)

	// The forged tokens are right in every way but the one under test.
	good := sign(t, jwt.SigningMethodHS256, secret, valid)
	p, err := e.svc.Authenticate(context.Background(), good)
	require.NoError(t, err, "the control token must pass")
	require.True(t, p.Can(telemetryd.ReadTelemetry))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rs256WithSecret := jwt.NewWithClaims(jwt.SigningMethodHS256, valid)
	rs256WithSecret.Header["alg"] = "RS256" // alg confusion: an RSA header over an HMAC signature
	confused, err := rs256WithSecret.SignedString(secret)
	require.NoError(t, err)
	refresh := e.login(t, "reader", userPassword).RefreshToken

	cases := []struct {
		name  string
		token string
	}{
		{"garbage is refused", "not-a-token"},
		{"an empty token is refused", ""},
		{"alg none is refused", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)},
		{"HS512 is refused", sign(t, jwt.SigningMethodHS512, secret, valid)},
		{"RS256 signed with an RSA key is refused", sign(t, jwt.SigningMethodRS256, rsaKey, valid)},
		{"an RS256 header over an HMAC signature is refused", confused},
		{"a wrong secret is refused", sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!!"), valid)},
		// Only a right signature over otherwise valid claims earns the
		// "Expired Signature" answer; expired and wrong is just wrong.
		{"an expired token with a wrong secret is refused", sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!!"), expired(valid))},
		{"an expired token with a wrong audience is refused", sign(t, jwt.SigningMethodHS256, secret, with(expired(valid), func(c jwt.MapClaims) { c["aud"] = []string{"another-service"} }))},
		{"an expired token without subject is refused", sign(t, jwt.SigningMethodHS256, secret, with(expired(valid), func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"an expired token issued after its expiry is refused", sign(t, jwt.SigningMethodHS256, secret, with(expired(valid), func(c jwt.MapClaims) { c["iat"] = start.Unix() }))},
		{"an expired token signed with HS512 is refused", sign(t, jwt.SigningMethodHS512, secret, expired(valid))},
		{"a token without exp is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"a wrong issuer is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{"a wrong audience is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) { c["aud"] = []string{"another-service"} }))},
		{"a token issued in the future is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = start.Add(time.Hour).Unix(), start.Add(time.Hour).Unix(), start.Add(2*time.Hour).Unix()
		}))},
		{"a token for an unknown account is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) { c["sub"] = uuid.NewString() }))},
		{"a token without subject is refused", sign(t, jwt.SigningMethodHS256, secret, with(valid, func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"a payload altered under the old signature is refused", alterPayload(t, good, func(p map[string]any) { p["roles"] = []string{"super-admin"} })},
		{"thousands of dots are refused", strings.Repeat(".", 5000)},
		{"thousands of dots under the length limit are refused", strings.Repeat(".", 4000)},
		{"an over-long token is refused", good + strings.Repeat("A", 5000)},
		{"a refresh token is refused as a bearer token", refresh},
		{"an API token prefix with garbage is refused", "tdk_garbage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := e.svc.Authenticate(context.Background(), tc.token)
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
			assert.Equal(t, "invalid or expired token", telemetryd.ErrorMessage(err), "the message must not say which check failed")
			assert.Nil(t, p)
		})
	}
}

// expired returns claims that expired 31 seconds ago, beyond the leeway.
func expired(claims jwt.MapClaims) jwt.MapClaims {
	return with(claims, func(c jwt.MapClaims) {
		c["iat"], c["nbf"], c["exp"] = start.Add(-time.Hour).Unix(), start.Add(-time.Hour).Unix(), start.Add(-31*time.Second).Unix()
	})
}

func TestACorrectlySignedExpiredTokenGetsExpiredSignature(t *testing.T) {
	e := newEnv(t)
	readerCtx := e.user(t, "reader", telemetryd.ReadTelemetry)
	reader, _ := auth.FromContext(readerCtx)
	token := sign(t, jwt.SigningMethodHS256, []byte(testSecret), expired(claimsFor(reader.AccountID, "reader", "reader-role")))
	_, err := e.svc.Authenticate(context.Background(), token)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	assert.Equal(t, "Expired Signature", telemetryd.ErrorMessage(err), "Infrahub's clients refresh on exactly this message")
}

func TestAccessTokensExpireAfterTheirTTLAndLeeway(t *testing.T) {
	e := newEnv(t)
	tokens := e.login(t, telemetryd.AdminUsername, adminPassword)
	assert.Equal(t, start.Add(15*time.Minute), tokens.ExpiresAt)

	e.clock.Advance(15*time.Minute + 20*time.Second)
	_, err := e.svc.Authenticate(context.Background(), tokens.AccessToken)
	require.NoError(t, err, "30 s of leeway absorb clock skew between replicas")

	e.clock.Advance(11 * time.Second)
	_, err = e.svc.Authenticate(context.Background(), tokens.AccessToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	assert.Equal(t, "Expired Signature", telemetryd.ErrorMessage(err))
}

func TestAccessTokensCarryTheContractClaims(t *testing.T) {
	e := newEnv(t)
	tokens := e.login(t, telemetryd.AdminUsername, adminPassword)
	parts := strings.Split(tokens.AccessToken, ".")
	require.Len(t, parts, 3)

	var header, claims map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &header))
	raw, err = base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &claims))

	assert.Equal(t, "HS256", header["alg"])
	me, err := e.svc.Me(e.as(t, tokens.AccessToken))
	require.NoError(t, err)
	assert.Equal(t, "telemetryd", claims["iss"])
	assert.Equal(t, []any{"telemetryd"}, claims["aud"])
	assert.Equal(t, me.ID, claims["sub"])
	assert.Equal(t, "admin", claims["name"])
	assert.Equal(t, []any{"super-admin"}, claims["roles"])
	assert.EqualValues(t, start.Unix(), claims["iat"])
	assert.EqualValues(t, start.Unix(), claims["nbf"])
	assert.EqualValues(t, start.Add(15*time.Minute).Unix(), claims["exp"])
	assert.NotEmpty(t, claims["jti"])
}
