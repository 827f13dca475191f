// Package console serves telemetryd's web console and its GraphiQL
// explorer: the bundle built from ui/ into dist/ (make ui), embedded in
// the binary so the console works air-gapped.
package console

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

//go:embed dist
var dist embed.FS

// Manifest is what the build records in dist/manifest.json.
type Manifest struct {
	// Source is the hash of the sources the bundle was built from (ui/
	// and docs/telemetry.md); a test recomputes it to catch a stale build.
	Source string `json:"source"`
	// Sections are the first path segments of the console's client-side
	// routes; "/" is the console too.
	Sections []string `json:"sections"`
}

// securityHeaders are set on every console response: scripts and styles
// only from this origin (never inline or eval), API calls only to it,
// fonts and images from it or data: URLs, no framing, no sniffing, no
// referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"font-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

const (
	// htmlCaching makes browsers revalidate the pages, so a new release
	// is picked up at the next load.
	htmlCaching = "no-cache"
	// assetCaching lets browsers keep fingerprinted assets: a changed
	// asset gets a new name.
	assetCaching = "public, max-age=31536000, immutable"
)

// ReadManifest returns the embedded build's manifest.
func ReadManifest() (Manifest, error) {
	var m Manifest
	b, err := dist.ReadFile("dist/manifest.json")
	if err != nil {
		return m, fmt.Errorf("reading the console's manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("reading the console's manifest: %w", err)
	}
	return m, nil
}

// Console is the embedded build, read once.
type Console struct {
	manifest Manifest
	files    fs.FS
	app      []byte
	graphiql []byte
	// gzipped holds each asset compressed, made at its first request.
	gzipped sync.Map // name -> func() ([]byte, error)
}

// New reads the embedded build.
func New() (*Console, error) {
	m, err := ReadManifest()
	if err != nil {
		return nil, err
	}
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	c := &Console{manifest: m, files: files}
	if c.app, err = fs.ReadFile(files, "index.html"); err != nil {
		return nil, fmt.Errorf("reading the console's page: %w", err)
	}
	if c.graphiql, err = fs.ReadFile(files, "graphiql.html"); err != nil {
		return nil, fmt.Errorf("reading the explorer's page: %w", err)
	}
	return c, nil
}

// Handler serves GET and HEAD for the console: /assets/* (fingerprinted,
// cached for a year), /graphiql, and the app's page for / and every path
// under its sections, so links into the console and reloads work.
// Everything else goes to next.
func (c *Console) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		p := r.URL.Path
		section, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		switch {
		case strings.HasPrefix(p, "/assets/"):
			c.serveAsset(w, r, next)
		case p == "/graphiql":
			servePage(w, r, c.graphiql)
		case p == "/" || slices.Contains(c.manifest.Sections, section):
			servePage(w, r, c.app)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request, next http.Handler) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !fs.ValidPath(name) || path.Clean(name) != name {
		next.ServeHTTP(w, r)
		return
	}
	if st, err := fs.Stat(c.files, name); err != nil || st.IsDir() {
		next.ServeHTTP(w, r)
		return
	}
	setHeaders(w, assetCaching)
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		http.ServeFileFS(w, r, c.files, name)
		return
	}
	compress, _ := c.gzipped.LoadOrStore(name, sync.OnceValues(func() ([]byte, error) { return c.compress(name) }))
	body, err := compress.(func() ([]byte, error))()
	if err != nil {
		http.ServeFileFS(w, r, c.files, name)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func (c *Console) compress(name string) ([]byte, error) {
	plain, err := fs.ReadFile(c.files, name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(plain); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// acceptsGzip reports whether the request accepts a gzipped answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(coding) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func setHeaders(w http.ResponseWriter, caching string) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	w.Header().Set("Cache-Control", caching)
}

func servePage(w http.ResponseWriter, r *http.Request, body []byte) {
	setHeaders(w, htmlCaching)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
