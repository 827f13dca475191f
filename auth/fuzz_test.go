package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/store/embedded"
)

// FuzzAuthorizationHeader sends arbitrary Authorization headers through
// the middleware that guards every route: it never panics, a refused
// header is EUNAUTHENTICATED (never anything a client could tell apart),
// and only the tokens the server issued, exactly, name a caller.
func FuzzAuthorizationHeader(f *testing.F) {
	ctx := context.Background()
	st, err := embedded.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	svc := auth.New(auth.Config{Store: st, Now: func() time.Time { return now }, PasswordCost: bcrypt.MinCost})
	if _, err := svc.Bootstrap(ctx, adminPassword, testSecret); err != nil {
		f.Fatal(err)
	}
	tokens, err := svc.Login(ctx, telemetryd.AdminUsername, adminPassword)
	if err != nil {
		f.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, tokens.AccessToken)
	if err != nil {
		f.Fatal(err)
	}
	_, apiToken, err := svc.CreateAPIToken(auth.NewContext(ctx, admin), "fuzz", time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	issued := map[string]bool{tokens.AccessToken: true, apiToken: true}

	access := tokens.AccessToken
	head, rest, _ := strings.Cut(access, ".")
	payload, signature, _ := strings.Cut(rest, ".")
	for _, seed := range []string{
		"Bearer " + access,
		"bearer   " + access + " ",
		"Bearer " + apiToken,
		"Bearer " + tokens.RefreshToken,
		"Basic YWRtaW46cGFzc3dvcmQ=",
		"Bearer",
		"Bearer ",
		"Bearer " + head + "." + payload + ".",
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".",
		"Bearer eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." + payload + "." + signature,
		"Bearer " + head + "." + payload + "." + signature + "=",
		"Bearer " + head + "." + payload + payload + "." + signature,
		"Bearer tdk_",
		"Bearer tdk_" + strings.Repeat("A", 5000),
		"Bearer ....",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		var (
			caller  *auth.Principal
			refusal error
		)
		h := svc.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			caller, _ = auth.FromContext(r.Context())
			refusal = auth.AuthError(r.Context())
		}))
		r := httptest.NewRequest(http.MethodGet, "/api/telemetry/snapshots", nil)
		r.Header["Authorization"] = []string{header}
		h.ServeHTTP(httptest.NewRecorder(), r)

		if refusal != nil && telemetryd.ErrorCode(refusal) != telemetryd.EUNAUTHENTICATED {
			t.Fatalf("header %q refused with code %s: %v", header, telemetryd.ErrorCode(refusal), refusal)
		}
		if caller == nil {
			return
		}
		scheme, token, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Bearer") || !issued[strings.TrimSpace(token)] {
			t.Fatalf("header %q names caller %s, though it carries no token the server issued", header, caller.Username)
		}
	})
}
