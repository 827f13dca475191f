package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/console"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	c, err := console.New()
	require.NoError(t, err)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"data":null,"errors":[{"message":"no route `+r.URL.Path+`"}]}`)
	})
	srv := httptest.NewServer(c.Handler(next))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func TestThePagesAnswerEveryConsolePathWithTheirHeaders(t *testing.T) {
	srv := serve(t)
	for _, path := range []string{"/", "/signin", "/snapshots", "/snapshots/0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b", "/compare", "/access", "/graphiql"} {
		t.Run(path, func(t *testing.T) {
			res, body := get(t, srv.URL+path)
			require.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
			assert.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
			csp := res.Header.Get("Content-Security-Policy")
			assert.Contains(t, csp, "script-src 'self';")
			assert.Contains(t, csp, "frame-ancestors 'none'")
			assert.NotContains(t, csp, "unsafe-inline")
			assert.NotContains(t, csp, "unsafe-eval")
			assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))
			assert.NotContains(t, body, "<script>", "an inline script")
			assert.NotRegexp(t, `(src|href)="(https?:)?//`, body, "something loads from another origin")
		})
	}
}

func TestTheExplorerLoadsOnlyOnItsOwnPage(t *testing.T) {
	srv := serve(t)
	_, app := get(t, srv.URL+"/")
	_, explorer := get(t, srv.URL+"/graphiql")
	assert.NotContains(t, app, "graphiql")
	assert.Contains(t, explorer, "/assets/graphiql-")
}

func TestAssetsAreFingerprintedAndCachedForAYear(t *testing.T) {
	srv := serve(t)
	_, page := get(t, srv.URL+"/")
	assets := regexp.MustCompile(`/assets/[a-z]+-[A-Z0-9]{8}\.(js|css|svg)`).FindAllString(page, -1)
	require.Len(t, assets, 3, "the page loads a script, a stylesheet and an icon:\n%s", page)
	for _, a := range assets {
		res, body := get(t, srv.URL+a)
		require.Equal(t, http.StatusOK, res.StatusCode, a)
		assert.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"), a)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), a)
		assert.NotEmpty(t, body)
		assert.NotContains(t, body, "://fonts.", "a web font from another origin")
	}
}

func TestOtherPathsGoToTheServer(t *testing.T) {
	srv := serve(t)
	for _, path := range []string{"/api/telemetry/nowhere", "/nowhere", "/assets/missing-AAAAAAAA.js", "/assets/", "/assets/../manifest.json"} {
		res, body := get(t, srv.URL+path)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
		assert.True(t, strings.HasPrefix(body, `{"data":null`), "%s answered %s", path, body)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/snapshots", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "a POST to a page")
}

// TestTheBuildIsFresh fails when ui/ or docs/telemetry.md changed since the
// committed build: run `make ui` and commit console/dist.
func TestTheBuildIsFresh(t *testing.T) {
	m, err := console.ReadManifest()
	require.NoError(t, err)
	want, err := sourceHash("..")
	require.NoError(t, err)
	assert.Equal(t, want, m.Source, "console/dist is stale: run `make ui` and commit console/dist")
}

// TestTheSignInPageLoadsUnder200KB measures what a browser downloads for
// the first load of the sign-in page, gzipped as the server sends it:
// the page and every asset it names. GraphiQL is not part of it.
func TestTheSignInPageLoadsUnder200KB(t *testing.T) {
	srv := serve(t)
	fetch := func(path string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		res, err := http.DefaultTransport.RoundTrip(req) // keeps the body compressed
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		return len(body), res.Header.Get("Content-Encoding")
	}
	_, page := get(t, srv.URL+"/signin")
	total, _ := fetch("/signin")
	for _, a := range regexp.MustCompile(`/assets/[^"]+`).FindAllString(page, -1) {
		n, encoding := fetch(a)
		assert.Equal(t, "gzip", encoding, a)
		t.Logf("%s: %d bytes gzipped", a, n)
		total += n
	}
	t.Logf("first load of the sign-in page: %d bytes", total)
	assert.Less(t, total, 200_000)
}
