package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Error codes of the API, as GraphQL's extensions.code names them; REST
// statuses are mapped onto the same names.
const (
	codeUnauthenticated = "UNAUTHENTICATED"
	codeForbidden       = "FORBIDDEN"
	codeInvalid         = "BAD_USER_INPUT"
	codeNotFound        = "NOT_FOUND"
	codeConflict        = "CONFLICT"
	codeTooManyRequests = "TOO_MANY_REQUESTS"
	codeUnavailable     = "UNAVAILABLE"
	codeInternal        = "INTERNAL"
)

var codeOfStatus = map[int]string{
	http.StatusUnprocessableEntity: codeInvalid,
	http.StatusBadRequest:          codeInvalid,
	http.StatusUnauthorized:        codeUnauthenticated,
	http.StatusForbidden:           codeForbidden,
	http.StatusNotFound:            codeNotFound,
	http.StatusConflict:            codeConflict,
	http.StatusTooManyRequests:     codeTooManyRequests,
	http.StatusServiceUnavailable:  codeUnavailable,
}

// notLoggedIn is the message of every refused credential: the one thing
// to do about it is the same whichever token was refused.
const notLoggedIn = "not logged in or token expired: run `telemetryctl login`"

// apiError is an error the server answered with.
type apiError struct {
	Code    string
	Message string
	// Anonymous marks requests made without credentials on purpose
	// (login, refresh), whose UNAUTHENTICATED answers mean something else
	// than "log in again".
	Anonymous bool
	// ExplicitToken marks requests authorised by --token rather than the
	// stored login.
	ExplicitToken bool
	// LoginServer is the server of a stored login that was not used
	// because --server names another.
	LoginServer string
}

func (e *apiError) Error() string {
	switch {
	case e.Code == codeUnauthenticated && !e.Anonymous:
		switch {
		case e.ExplicitToken:
			return notLoggedIn + " (the token from --token or TELEMETRYCTL_TOKEN was refused)"
		case e.LoginServer != "":
			return notLoggedIn + " (the stored login is for " + e.LoginServer + ")"
		}
		return notLoggedIn
	case e.Code == codeForbidden:
		// The server names the missing permission, or the rule refused.
		return "permission denied: " + e.Message
	case e.Code == codeUnavailable:
		return "server unavailable, try again later: " + e.Message
	}
	return e.Message
}

// client calls telemetryd's REST and GraphQL APIs, authorising requests
// with --token or else the stored login, which it refreshes as needed.
type client struct {
	server string // without a trailing slash
	token  string // --token; wins over the stored login
	creds  *credentialFile
	http   *http.Client
	now    func() time.Time
	stderr io.Writer // for warnings that do not stop the command

	login      *credentials // the stored login, loaded once
	otherLogin string       // the server of a stored login to another server
	// stored is the refresh token in the file as this process last read
	// or wrote it: another value there means another telemetryctl
	// refreshed meanwhile.
	stored string
}

// requestTimeout bounds one request other than an export (see stream).
const requestTimeout = 2 * time.Minute

func newClient(server, token string, getenv func(string) string, stderr io.Writer) *client {
	return &client{
		server: server,
		token:  token,
		creds:  newCredentialFile(getenv),
		http: &http.Client{
			Timeout: requestTimeout,
			// A redirect is not followed: a 307 or 308 would post a
			// password or token anywhere, plain http included. do says
			// where to point --server instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:    time.Now,
		stderr: stderr,
	}
}

// getREST fetches a REST route and returns the body of a 200 answer.
func (c *client) getREST(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return c.authorised(ctx, func(bearer string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		return c.do(req, bearer, restError)
	})
}

// graphQL runs an operation that needs the caller to be signed in and
// decodes its data into out.
func (c *client) graphQL(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := c.authorised(ctx, func(bearer string) ([]byte, error) {
		return c.postGraphQL(ctx, bearer, query, vars)
	})
	if err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// anonymousGraphQL runs an operation without credentials: login, refresh
// and logout carry their secrets as arguments.
func (c *client) anonymousGraphQL(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := c.postGraphQL(ctx, "", query, vars)
	if err != nil {
		var apiErr *apiError
		if errors.As(err, &apiErr) {
			apiErr.Anonymous = true
		}
		return err
	}
	return json.Unmarshal(body, out)
}

// postGraphQL posts one operation and returns its data, or its first
// error.
func (c *client) postGraphQL(ctx context.Context, bearer, query string, vars map[string]any) ([]byte, error) {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+"/graphql", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	body, err := c.do(req, bearer, graphQLError)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []graphQLErr    `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("unexpected answer from %s: %v", req.URL, err)
	}
	if len(resp.Errors) > 0 {
		return nil, resp.Errors[0].apiError()
	}
	return resp.Data, nil
}

type graphQLErr struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

func (g graphQLErr) apiError() *apiError {
	code := g.Extensions.Code
	if code == "" {
		// gqlgen's own validation errors carry no code: the operation
		// did not fit the schema.
		code = codeInvalid
	}
	return &apiError{Code: code, Message: g.Message}
}

// errorReader turns a failed answer of u into an error.
type errorReader func(u *url.URL, status int, body []byte) error

// restError reads the contract's REST error body; extensions.code there
// is the HTTP status.
func restError(u *url.URL, status int, body []byte) error {
	var resp struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Errors) == 0 {
		// Not telemetryd's answer: a proxy's, or another server's.
		return fmt.Errorf("unexpected answer from %s: HTTP %d %s (is --server the URL of telemetryd?)", u.Redacted(), status, http.StatusText(status))
	}
	msg := resp.Errors[0].Message
	code, ok := codeOfStatus[status]
	if !ok {
		code = codeInternal
		msg = fmt.Sprintf("server error (HTTP %d): %s", status, msg)
	}
	return &apiError{Code: code, Message: msg}
}

// graphQLError reads a GraphQL answer that came with an error status, as
// gqlgen sends for requests it refuses before running them.
func graphQLError(u *url.URL, status int, body []byte) error {
	var resp struct {
		Errors []graphQLErr `json:"errors"`
	}
	if json.Unmarshal(body, &resp) == nil && len(resp.Errors) > 0 {
		e := resp.Errors[0].apiError()
		if c, ok := codeOfStatus[status]; ok && resp.Errors[0].Extensions.Code == "" {
			e.Code = c
		}
		return e
	}
	return restError(u, status, body)
}

// do sends req with bearer (if any) and returns the body of a 200 answer.
func (c *client) do(req *http.Request, bearer string, readError errorReader) ([]byte, error) {
	resp, err := c.send(c.http, req, bearer, readError)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", req.URL.Redacted(), err)
	}
	return body, nil
}

// send sends req with bearer (if any) through hc and returns a 200 JSON
// answer with its body unread, for the caller to close; any other answer
// is an error, its body read and closed.
func (c *client) send(hc *http.Client, req *http.Request, bearer string, readError errorReader) (*http.Response, error) {
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("cannot reach telemetryd at %s: %v (is it running? set --server or TELEMETRYCTL_SERVER)", req.URL.Redacted(), err)
	}
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/graphql-response+json") {
			resp.Body.Close()
			return nil, fmt.Errorf("%s answered with %q rather than JSON: is --server a telemetryd?", req.URL.Redacted(), ct)
		}
		return resp, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", req.URL.Redacted(), err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		to := loc
		if target, err := req.URL.Parse(loc); err == nil {
			to = target.Redacted()
		}
		return nil, fmt.Errorf("%s redirects to %s, which telemetryctl does not follow: set --server to the URL telemetryd serves at", req.URL.Redacted(), to)
	}
	return nil, readError(req.URL, resp.StatusCode, body)
}

// maxErrorBody bounds how much of a failed answer is read.
const maxErrorBody = 1 << 20

// exportTimeout bounds one streamed export, as the server does.
const exportTimeout = time.Hour

// stream GETs a REST route and hands the body of its 200 answer to read
// as it arrives, so an export of any size passes through in bounded
// memory. An expired login is refreshed as for every request, before any
// of the body is read.
func (c *client) stream(ctx context.Context, path string, query url.Values, read func(io.Reader) error) error {
	u := c.server + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	hc := *c.http
	hc.Timeout = exportTimeout
	_, err := c.authorised(ctx, func(bearer string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.send(&hc, req, bearer, restError)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if err := read(resp.Body); err != nil {
			return nil, fmt.Errorf("reading the answer of %s: %w", req.URL.Redacted(), err)
		}
		return nil, nil
	})
	return err
}

// authorised runs call with the bearer token to use. With the stored
// login it refreshes an expired access token first, and once more when
// the server refuses the access token anyway (a clock ahead of the
// server's, or a server restarted with another secret).
func (c *client) authorised(ctx context.Context, call func(bearer string) ([]byte, error)) ([]byte, error) {
	if c.token != "" {
		body, err := call(c.token)
		var apiErr *apiError
		if errors.As(err, &apiErr) {
			apiErr.ExplicitToken = true
		}
		return body, err
	}
	login, err := c.storedLogin(ctx)
	if err != nil {
		return nil, err
	}
	if login == nil {
		// Not logged in here: the server's 401 explains what to do.
		body, err := call("")
		var apiErr *apiError
		if errors.As(err, &apiErr) {
			apiErr.LoginServer = c.otherLogin
		}
		return body, err
	}
	body, err := call(login.AccessToken)
	var apiErr *apiError
	if !errors.As(err, &apiErr) || apiErr.Code != codeUnauthenticated {
		return body, err
	}
	if login, err = c.refresh(ctx, login); err != nil {
		return nil, err
	}
	return call(login.AccessToken)
}
