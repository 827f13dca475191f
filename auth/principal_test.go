package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

func TestMiddlewarePutsTheCallerInTheContext(t *testing.T) {
	e := newEnv(t)
	token := e.login(t, telemetryd.AdminUsername, adminPassword).AccessToken

	var got *http.Request
	h := e.svc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r }))
	serve := func(header string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/api/telemetry/snapshots", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, "the middleware never answers itself")
		return got
	}

	t.Run("a valid bearer token gives a caller", func(t *testing.T) {
		r := serve("Bearer " + token)
		p, ok := auth.FromContext(r.Context())
		require.True(t, ok)
		assert.Equal(t, "admin", p.Username)
		assert.Equal(t, auth.AccessToken, p.TokenKind)
		assert.NoError(t, auth.AuthError(r.Context()))
		_, err := auth.Require(r.Context(), telemetryd.ReadTelemetry)
		assert.NoError(t, err, "SUPER_ADMIN implies READ_TELEMETRY")
	})
	t.Run("no header gives an anonymous request", func(t *testing.T) {
		r := serve("")
		_, ok := auth.FromContext(r.Context())
		assert.False(t, ok)
		assert.NoError(t, auth.AuthError(r.Context()))
		_, err := auth.Require(r.Context(), telemetryd.ReadTelemetry)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	for name, header := range map[string]string{
		"a bad token is recorded as the reason":    "Bearer not-a-token",
		"another scheme is recorded as the reason": "Basic YWRtaW46cGFzc3dvcmQ=",
	} {
		t.Run(name, func(t *testing.T) {
			r := serve(header)
			_, ok := auth.FromContext(r.Context())
			assert.False(t, ok)
			requireCode(t, telemetryd.EUNAUTHENTICATED, auth.AuthError(r.Context()))
			_, err := auth.Require(r.Context(), telemetryd.ReadTelemetry)
			requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		})
	}
}

func TestRequire(t *testing.T) {
	reader := &auth.Principal{Username: "r", Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}}
	super := &auth.Principal{Username: "s", Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}}
	cases := []struct {
		name   string
		caller *auth.Principal
		perm   telemetryd.Permission
		code   string
	}{
		{"a holder of the permission passes", reader, telemetryd.ReadTelemetry, ""},
		{"a super-admin passes for any permission", super, telemetryd.ManagePermissions, ""},
		{"a caller without the permission is forbidden", reader, telemetryd.ManageAccounts, telemetryd.EFORBIDDEN},
		{"no caller is unauthenticated", nil, telemetryd.ReadTelemetry, telemetryd.EUNAUTHENTICATED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.caller != nil {
				ctx = auth.NewContext(ctx, tc.caller)
			}
			p, err := auth.Require(ctx, tc.perm)
			assert.Equal(t, tc.code, telemetryd.ErrorCode(err))
			if tc.code == "" {
				assert.Same(t, tc.caller, p)
			}
			if tc.code == telemetryd.EFORBIDDEN {
				assert.Equal(t, "requires permission MANAGE_ACCOUNTS", telemetryd.ErrorMessage(err))
			}
		})
	}
}
