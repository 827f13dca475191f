package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// The REST authentication routes speak the protocol of Infrahub's clients
// (infrahubctl and its Python SDK) and serve the web console: the same
// auth.Service, and so the same accounts, throttle, audit lines and
// tokens, as the GraphQL mutations.

// RefreshCookie is the cookie holding the refresh token of a session
// begun at POST /api/auth/login; only /api/auth routes receive it.
const RefreshCookie = "telemetryd_refresh"

// maxAuthBody bounds the body of an authentication route: a username and
// a password are at most a few hundred bytes.
const maxAuthBody = 4 << 10

// credentials is the body of POST /api/auth/login.
type credentials struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	var c credentials
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&c); err != nil {
		writeError(w, http.StatusUnprocessableEntity, `the body must be a JSON object {"username": "…", "password": "…"}`)
		return
	}
	switch {
	case c.Username == nil:
		writeError(w, http.StatusUnprocessableEntity, "username is required")
		return
	case c.Password == nil:
		writeError(w, http.StatusUnprocessableEntity, "password is required")
		return
	}
	tokens, err := s.Auth.Login(r.Context(), *c.Username, *c.Password)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	http.SetCookie(w, refreshCookie(r, tokens.RefreshToken, int(auth.DefaultRefreshTokenTTL.Seconds())))
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tokens.AccessToken, "refresh_token": tokens.RefreshToken})
}

// handleRefresh answers a new access token for the session's refresh
// token, which stays valid (see auth.Service.RefreshAccess).
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	token, err := refreshTokenOf(r)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	tokens, err := s.Auth.RefreshAccess(r.Context(), token)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tokens.AccessToken})
}

// handleLogout ends the session and clears the cookie. Logging out
// without a session, or twice, is no error: the client is signed out
// either way.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if token, err := refreshTokenOf(r); err == nil {
		if _, err := s.Auth.Logout(r.Context(), token); err != nil {
			s.writeDomainError(w, r, err)
			return
		}
	}
	http.SetCookie(w, refreshCookie(r, "", -1))
	writeJSON(w, http.StatusOK, struct{}{})
}

var errNoRefreshToken = telemetryd.Errorf(telemetryd.EUNAUTHENTICATED,
	"a refresh token is required: Authorization: Bearer <refresh token>, or the session cookie")

// refreshTokenOf returns the refresh token a request presents: a Bearer
// refresh token, else the session cookie, else whatever Bearer value came
// (to be refused as any bad token is).
func refreshTokenOf(r *http.Request) (string, error) {
	var bearer string
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		bearer = strings.TrimSpace(token)
	}
	if strings.HasPrefix(bearer, "tdr_") {
		return bearer, nil
	}
	if c, err := r.Cookie(RefreshCookie); err == nil && c.Value != "" {
		return c.Value, nil
	}
	if bearer != "" {
		return bearer, nil
	}
	return "", errNoRefreshToken
}

// refreshCookie returns the session cookie holding value for maxAge
// seconds (negative: delete it). It is Secure unless the request came over
// plain http to a loopback host, where browsers would not send it back.
func refreshCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     RefreshCookie,
		Value:    value,
		Path:     "/api/auth",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil || !loopbackHost(r.Host),
	}
}

// loopbackHost reports whether the Host header names this machine.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// noStore keeps answers carrying tokens out of every cache.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}
