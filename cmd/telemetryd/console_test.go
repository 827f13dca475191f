package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// The browser tests drive Debian's chromium through the console of a real
// `telemetryd serve`, as a person would, and save a screenshot of each
// screen into screenshots/ at the repository root (git-ignored).

const (
	adminPassword   = "console admin password"
	bobPassword     = "bob's own password"
	fleetDeployment = "5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b"
	// waitFor bounds one wait for what a person would see.
	waitFor = 15 * time.Second
)

// chromiumPath finds the browser: $CHROMIUM, else chromium on PATH. Under
// CI=true a missing browser fails the test (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); the console's browser tests need it")
	}
	t.Skip("chromium is not installed; set CHROMIUM or install Debian's chromium to run the console's browser tests")
	return ""
}

// seedSnapshots is 45 days of a deployment's chained snapshots, one a day
// from 2026-01-07 to 2026-02-20, growing as a real deployment would, and
// upgraded from 0.1.0 to 0.2.0 on 2026-02-06.
func seedSnapshots(t *testing.T) []*telemetryd.Snapshot {
	t.Helper()
	var snaps []*telemetryd.Snapshot
	var prev *telemetryd.Snapshot
	start := time.Date(2026, 1, 7, 2, 17, 5, 123456000, time.UTC)
	for i := range 45 {
		version := "0.1.0"
		if i >= 30 {
			version = "0.2.0"
		}
		data, err := json.Marshal(map[string]any{
			"instance": map[string]any{"deployment_id": fleetDeployment, "version": version, "os": "linux", "arch": "amd64", "cpu_cores": 8},
			"store": map[string]any{"backend": "neo4j", "nodes": 1000 + 37*i, "relationships": 2000 + 51*i,
				"nodes_by_label": map[string]any{"TelemetrySnapshot": i + 1}},
			"accounts":          map[string]any{"total": 3 + i/10, "disabled": 0, "super_admins": 1},
			"activity_24h":      map[string]any{"logins": (i % 7) * 3, "telemetry_reads": i % 5},
			"collection_errors": []string{},
		})
		require.NoError(t, err)
		s := telemetryd.NewSnapshot(fleetDeployment, version, data, start.AddDate(0, 0, i), prev)
		require.NoError(t, s.Seal())
		s.RemoteSendStatus, s.RemoteSendAt = telemetryd.SendSent, s.CreatedAt.Add(time.Second)
		if i%10 == 3 {
			s.RemoteSendStatus, s.RemoteSendError = telemetryd.SendFailed, "endpoint answered 503 Service Unavailable"
		}
		snaps = append(snaps, s)
		prev = s
	}
	return snaps
}

// tab is one browser tab on the console, with what it saw.
type tab struct {
	ctx       context.Context
	base      string
	downloads string
	shots     string

	mu      sync.Mutex
	foreign []string // requests that left the server's origin
	errors  []string // console errors and warnings, uncaught exceptions
	// done receives the path of each completed download.
	done chan string
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })

	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	b := &tab{ctx: ctx, base: base, downloads: t.TempDir(), shots: filepath.Join(root, "screenshots"), done: make(chan string, 8)}
	require.NoError(t, os.MkdirAll(b.shots, 0o755))

	require.NoError(t, chromedp.Do(ctx)) // starts the browser, for as long as ctx lives
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	console := chromedp.Console(ctx)
	downloads := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			u := ev.Request.URL
			if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:"+base+"/") {
				b.mu.Lock()
				b.foreign = append(b.foreign, u)
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
				b.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range downloads {
			if err != nil {
				return
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				b.done <- filepath.Join(b.downloads, ev.GUID)
			}
		}
	}()
	enable := func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, log.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{})
		return err
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(enable)))
	events := true
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: &events,
	})
	require.NoError(t, err)
	return b
}

// do performs actions, failing the test after waitFor.
func (b *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitFor)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *tab, expression string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitFor)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	require.NoError(t, err)
	return v
}

func (b *tab) open(t *testing.T, path string) {
	t.Helper()
	b.do(t, chromedp.Navigate(b.base+path))
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// poll waits until the JavaScript expression is true. A page that is
// being replaced (a reload, a navigation) loses the context the
// expression runs in; the poll then starts again in the new page.
func (b *tab) poll(expression string) error {
	ctx, cancel := context.WithTimeout(b.ctx, waitFor)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expression, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "context") {
			return err
		}
	}
}

// see waits until the page shows text.
func (b *tab) see(t *testing.T, text string) {
	t.Helper()
	err := b.poll("document.body.innerText.includes(" + jsString(text) + ")")
	require.NoError(t, err, "the page never showed %q; it shows:\n%s", text, b.text(t))
}

// text is what the page shows.
func (b *tab) text(t *testing.T) string {
	t.Helper()
	return eval[string](t, b, "document.body.innerText")
}

// at waits until the address bar shows path (with its query).
func (b *tab) at(t *testing.T, path string) {
	t.Helper()
	err := b.poll("location.pathname + location.search === " + jsString(path))
	require.NoError(t, err, "the address bar never showed %s; it shows %s", path, b.path(t))
}

// path is the address bar's path and query.
func (b *tab) path(t *testing.T) string {
	t.Helper()
	return eval[string](t, b, "location.pathname + location.search")
}

// click clicks the button or link a person would call by its text.
func (b *tab) click(t *testing.T, text string) {
	t.Helper()
	b.do(t, chromedp.Click(chromedp.Search(fmt.Sprintf(`(//button[normalize-space()=%[1]s] | //a[normalize-space()=%[1]s])[1]`, xpathString(text)))))
}

// fill sets the field labelled label to value, as a date picker does.
func (b *tab) fill(t *testing.T, label, value string) {
	t.Helper()
	b.do(t, chromedp.SetValue(field(label), value))
}

// choose picks option in the list labelled label, once the list offers it.
func (b *tab) choose(t *testing.T, label, option string) {
	t.Helper()
	err := b.poll(fmt.Sprintf(`(() => {
		const s = document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		if (!s || ![...s.options].some((o) => o.value === %[2]s && !o.disabled)) return false;
		s.value = %[2]s;
		s.dispatchEvent(new Event('change', { bubbles: true }));
		return true;
	})()`, jsString(string(field(label))), jsString(option)))
	require.NoError(t, err, "the list %q never offered %q", label, option)
}

// typeInto types value key by key into the field labelled label.
func (b *tab) typeInto(t *testing.T, label, value string) {
	t.Helper()
	b.do(t, chromedp.SendKeys(field(label), value))
}

func field(label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`(//label[starts-with(normalize-space(), %s)]//*[self::input or self::select])[1]`, xpathString(label)))
}

func xpathString(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return `'` + s + `'`
}

// view sets the viewport's width and colour scheme.
func view(width int64, scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: width, Height: 900, DeviceScaleFactor: 1, Mobile: width < 600,
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// shot saves the page as it looks at 1280 px in light mode; all adds dark
// mode and 390 px.
func (b *tab) shot(t *testing.T, name string, all bool) {
	t.Helper()
	type look struct {
		width  int64
		scheme string
	}
	looks := []look{{1280, "light"}}
	if all {
		looks = append(looks, look{1280, "dark"}, look{390, "light"}, look{390, "dark"})
	}
	for _, l := range looks {
		b.do(t, view(l.width, l.scheme))
		if l.width < 600 {
			wide := eval[[]string](t, b, overflowing)
			assert.Empty(t, wide, "%s: these stick out of a %d px screen", name, l.width)
		}
		ctx, cancel := context.WithTimeout(b.ctx, waitFor)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%d-%s.png", name, l.width, l.scheme)), png, 0o644))
	}
	b.do(t, view(1280, "light"))
}

// overflowing lists the elements wider than the screen, outside boxes
// that scroll sideways on purpose.
const overflowing = `[...document.querySelectorAll('body *')]
	.filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > innerWidth + 1)
	.map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
	.concat(document.documentElement.scrollWidth > innerWidth ? ['the page scrolls sideways: ' + document.documentElement.scrollWidth] : [])`

// download waits for the next completed download and returns its path.
func (b *tab) download(t *testing.T) string {
	t.Helper()
	select {
	case path := <-b.done:
		return path
	case <-time.After(waitFor):
		t.Fatal("the download never completed")
		return ""
	}
}

// menu is the names of the pages the top bar offers.
func (b *tab) menu(t *testing.T) []string {
	t.Helper()
	return eval[[]string](t, b, `[...document.querySelectorAll('header nav a')].map((a) => a.textContent)`)
}

// seenErrors is what the browser logged as errors so far.
func (b *tab) seenErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// forgetErrors drops the errors logged after the first n, once a test
// has checked they were expected.
func (b *tab) forgetErrors(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = b.errors[:n]
}

// asAdmin runs a GraphQL mutation as admin, as another browser would.
func asAdmin(t *testing.T, base, query string) {
	t.Helper()
	post := func(path, token string, body any) map[string]any {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %v", path, out)
		return out
	}
	login := post("/api/auth/login", "", map[string]string{"username": "admin", "password": adminPassword})
	out := post("/graphql", login["access_token"].(string), map[string]string{"query": query})
	require.Nil(t, out["errors"], "%s", query)
}

func (b *tab) signIn(t *testing.T, username, password string) {
	t.Helper()
	b.see(t, "Sign in to telemetryd")
	b.typeInto(t, "Username", username)
	b.typeInto(t, "Password", password)
	b.click(t, "Sign in")
	b.see(t, "Sign out")
}

func (b *tab) signOut(t *testing.T) {
	t.Helper()
	b.click(t, "Sign out")
	b.see(t, "Sign in to telemetryd")
}

func TestServeHasTheConsoleAndKeepsJSON404s(t *testing.T) {
	d := serveInBackground(t, env("DO_NOT_TRACK", "1"), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	for _, path := range []string{"/", "/snapshots/0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b", "/graphiql"} {
		res, err := http.Get(d.url + path)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), path)
		assert.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
	}
	for _, path := range []string{"/api/telemetry/nowhere", "/api/", "/nowhere"} {
		status, body := httpGet(t, d.url+path)
		assert.Equal(t, http.StatusNotFound, status, path)
		assert.Contains(t, body, `"message":"no route `+path+`"`)
	}

	// A browser opening /graphql lands on the explorer; a client asking
	// for JSON still gets the endpoint's own answer.
	req, err := http.NewRequest(http.MethodGet, d.url+"/graphql", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/graphiql", res.Request.URL.Path, "redirected to the explorer")
	status, _ := httpGet(t, d.url+"/graphql?query=%7B__typename%7D")
	assert.Equal(t, http.StatusOK, status, "a query over GET is still answered")
}

func TestConsoleInTheBrowser(t *testing.T) {
	chromiumPath(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	snaps := seedSnapshots(t)
	seed := filepath.Join(dir, "seed.json")
	writeExport(t, seed, snaps)
	// The store lacks the snapshot of 2026-01-27, as if someone deleted it:
	// the chain breaks at the 28th.
	stored := filepath.Join(dir, "stored.json")
	writeExport(t, stored, slices.Delete(slices.Clone(snaps), 20, 21))
	code, stdout, stderr := execute(t, env(), "snapshots", "import", "--file", stored, "--data-dir", data, "--allow-chain-breaks")
	require.Equal(t, 0, code, "import: %s %s", stdout, stderr)

	d := serveInBackground(t, env("DO_NOT_TRACK", "1"), "--listen", "127.0.0.1:0", "--data-dir", data, "--admin-password", adminPassword)
	b := newTab(t, d.url)
	day := func(i int) *telemetryd.Snapshot { return snaps[i] } // snaps[i] is 2026-01-07 + i days

	t.Run("a visitor is asked to sign in, then sees the overview", func(t *testing.T) {
		b.open(t, "/")
		b.see(t, "Sign in to telemetryd")
		b.at(t, "/signin")
		b.shot(t, "signin", true)
		b.signIn(t, "admin", adminPassword)
		b.see(t, "Remote sending")
		b.see(t, "DO_NOT_TRACK is set")
		b.see(t, "1 problem in 45 snapshots")
		b.shot(t, "overview", true)
	})

	t.Run("a reload stays signed in", func(t *testing.T) {
		b.do(t, chromedp.Reload())
		b.see(t, "Overview")
		b.see(t, "Sign out")
		b.at(t, "/")
		stored := eval[string](t, b, "JSON.stringify(localStorage) + document.cookie")
		assert.NotContains(t, stored, "ey", "a token is readable by scripts")
	})

	t.Run("filtering to a bare end date includes that day", func(t *testing.T) {
		b.open(t, "/snapshots?end_date=2026-02-20")
		b.see(t, "44 snapshots match")
		b.fill(t, "From (UTC)", "2026-02-10")
		b.fill(t, "To (UTC, included)", "2026-02-16")
		b.click(t, "Apply filters")
		b.see(t, "7 snapshots match")
		page := b.text(t)
		assert.Contains(t, page, "2026-02-16 02:17:05.123456 UTC")
		assert.Contains(t, page, "2026-02-10 02:17:05.123456 UTC")
		assert.NotContains(t, page, "2026-02-17")
		assert.Contains(t, b.path(t), "end_date=2026-02-16")
		b.shot(t, "snapshots", true)

		b.do(t, chromedp.NavigateBack())
		b.see(t, "44 snapshots match")
		b.do(t, chromedp.NavigateForward())
		b.see(t, "7 snapshots match")
	})

	t.Run("failed sends show their reason and filter by status", func(t *testing.T) {
		b.open(t, "/snapshots?status=failed")
		b.see(t, "5 snapshots match")
		b.see(t, "endpoint answered 503 Service Unavailable")
	})

	t.Run("a deployment's snapshots filter by its id", func(t *testing.T) {
		b.open(t, "/snapshots")
		b.fill(t, "Deployment id", fleetDeployment)
		b.click(t, "Apply filters")
		b.see(t, "44 snapshots match") // not the server's own snapshot of today
		b.at(t, "/snapshots?deployment_id="+fleetDeployment)
	})

	t.Run("a snapshot opens with its checksum, chain and data", func(t *testing.T) {
		b.open(t, "/snapshots?end_date=2026-02-16")
		b.click(t, "2026-02-16 02:17:05.123456 UTC")
		b.see(t, "Snapshot of 2026-02-16 02:17:05.123456 UTC")
		b.see(t, day(40).ID)
		b.see(t, "matches the content")
		b.see(t, "links to the snapshot before it")
		assert.NotContains(t, b.text(t), "nodes_by_label", "the data tree starts folded below its sections")
		b.do(t, chromedp.Click(chromedp.Search(`//summary[span[@class="key" and .="store"]]`)))
		b.see(t, "nodes_by_label")
		b.see(t, "Re-send now")
		b.shot(t, "snapshot-detail", true)

		b.click(t, "Re-send now")
		b.see(t, "Re-sent: the snapshot is now skipped.") // DO_NOT_TRACK is set

		b.click(t, "Download JSON")
		b.see(t, "Downloaded snapshot-")
		var record map[string]any
		require.NoError(t, json.Unmarshal([]byte(readFile(t, b.download(t))), &record))
		assert.Equal(t, day(40).ID, record["id"])
		assert.Equal(t, day(40).Checksum, record["checksum"])
	})

	t.Run("two snapshots compare as a diff of data paths", func(t *testing.T) {
		b.open(t, "/snapshots?start_date=2026-02-05&end_date=2026-02-06")
		b.see(t, "2 snapshots match")
		b.do(t,
			chromedp.Click(chromedp.Search(`//input[contains(@aria-label, "2026-02-05T")]`)),
			chromedp.Click(chromedp.Search(`//input[contains(@aria-label, "2026-02-06T")]`)),
		)
		b.click(t, "Compare selected (2/2)")
		b.see(t, "Differences in data")
		page := b.text(t)
		assert.Contains(t, page, "instance.version\tchanged\t\"0.1.0\"\t\"0.2.0\"")
		assert.Contains(t, page, "store.nodes\tchanged\t2073\t2110")
		b.shot(t, "compare", true)
	})

	t.Run("a numeric path charts over a date range", func(t *testing.T) {
		b.open(t, "/trends?start_date=2026-01-01&end_date=2026-02-20&path=store.nodes")
		b.see(t, "store.nodes: 44 snapshots from 2026-01-07 02:17:05.123456 UTC (1000)")
		err := b.poll(`(() => { const c = document.querySelector('.chart-box canvas'); return !!c && c.width > 300 && c.height > 100; })()`)
		require.NoError(t, err, "no chart was drawn")
		b.shot(t, "trends", true)
	})

	t.Run("an export downloads and imports offline with telemetryd snapshots import", func(t *testing.T) {
		b.open(t, "/export")
		b.fill(t, "From (UTC)", "2026-01-01")
		b.fill(t, "To (UTC, included)", "2026-02-20")
		b.click(t, "Download export")
		b.see(t, "Downloaded")
		file := b.download(t)
		b.shot(t, "export", false)

		// The store lacks one day, so the export's chain breaks there:
		// the import says so and, allowed, imports it as it is.
		code, stdout, stderr := execute(t, env(), "snapshots", "import", "--file", file, "--data-dir", filepath.Join(dir, "elsewhere"), "--allow-chain-breaks")
		require.Equal(t, 0, code, "import: %s %s", stdout, stderr)
		assert.Contains(t, stdout, "imported 44 snapshots, 0 already present")
		assert.Contains(t, stderr, "warning: importing a chain break: "+day(21).ID)
	})

	t.Run("the server's check names the snapshot whose predecessor is gone", func(t *testing.T) {
		b.open(t, "/")
		b.click(t, "See them on the Integrity page")
		b.see(t, "1 problem")
		b.open(t, "/integrity")
		b.fill(t, "From (UTC)", "2026-01-01")
		b.fill(t, "To (UTC, included)", "2026-02-20")
		b.click(t, "Check")
		b.see(t, "44 snapshots checked: 1 problem")
		b.see(t, day(21).ID)
		b.see(t, "CHAIN_BREAK")
		b.fill(t, "From (UTC)", "2026-01-28")
		b.click(t, "Check")
		b.see(t, "24 snapshots checked: every checksum and chain link is intact") // the 28th anchors the chain
	})

	t.Run("checking a tampered export file in the browser names the altered snapshot", func(t *testing.T) {
		b.open(t, "/integrity")

		tampered := filepath.Join(dir, "tampered.json")
		content := readFile(t, seed)
		altered := strings.Replace(content, `"nodes":2073`, `"nodes":20730`, 1)
		require.NotEqual(t, content, altered)
		require.NoError(t, os.WriteFile(tampered, []byte(altered), 0o644))
		b.do(t, chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{tampered}))
		b.see(t, "45 snapshots checked: 1 problem")
		b.see(t, day(29).ID)
		b.see(t, "checksum mismatch")
		b.shot(t, "integrity", true)

		b.do(t, chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{seed}))
		b.see(t, "45 snapshots checked: every checksum and chain link is intact")
	})

	t.Run("the preview explains each field", func(t *testing.T) {
		b.open(t, "/preview")
		b.see(t, "Preview of the next send")
		b.see(t, "Logical CPUs, to size defaults for the machines actually used.")
		b.see(t, "Identifies the snapshot, so a receiver can deduplicate re-sends.")
		b.shot(t, "preview", true)
	})

	t.Run("an admin creates a reader, who sees no access screens", func(t *testing.T) {
		b.open(t, "/access")
		b.see(t, "New account")
		b.typeInto(t, "Username", "bob")
		b.typeInto(t, "Password (12 characters or more)", bobPassword)
		b.do(t, chromedp.Click(chromedp.Search(`//form[.//h3[.="New account"]]//label[normalize-space()="telemetry-reader"]/input`)))
		b.click(t, "Create account")
		b.see(t, "Account bob created.")
		assert.Equal(t, "disabled: The last active super-admin cannot be disabled.",
			eval[string](t, b, `(b => (b.disabled ? "disabled: " : "enabled: ") + b.title)(document.querySelector('button[aria-label="Disable admin"]'))`),
			"the admin's own Disable button is off and says why")
		b.shot(t, "access", true)
		b.signOut(t)

		b.signIn(t, "bob", bobPassword)
		b.see(t, "Snapshots")
		assert.NotContains(t, b.menu(t), "Access", "a reader sees the access screens in the menu")
		b.open(t, "/access")
		b.see(t, "Not available to you")
		b.see(t, "This page needs MANAGE_ACCOUNTS or MANAGE_PERMISSIONS")
		assert.NotContains(t, b.text(t), "New account")
		b.open(t, "/snapshots/"+day(40).ID)
		b.see(t, "Re-sending needs SUPER_ADMIN.")
		b.signOut(t)
	})

	t.Run("a role an admin assigns applies from the account's next sign-in", func(t *testing.T) {
		b.signIn(t, "admin", adminPassword)
		b.open(t, "/access")
		b.see(t, "New role")
		b.typeInto(t, "Name", "account-managers")
		b.do(t, chromedp.Click(chromedp.Search(`//form[.//h3[.="New role"]]//label[normalize-space()="MANAGE_ACCOUNTS"]/input`)))
		b.click(t, "Create role")
		b.see(t, "Role account-managers created.")
		b.choose(t, "Role to assign to bob", "account-managers")
		b.do(t, chromedp.Click(chromedp.Search(`//tr[th[starts-with(normalize-space(), "bob")]]//button[.="Assign"]`)))
		b.see(t, "Assigned account-managers to bob")
		b.signOut(t)

		b.signIn(t, "bob", bobPassword)
		b.click(t, "Access")
		b.see(t, "Accounts")
		b.see(t, "Choose a role…")
		assert.NotContains(t, b.text(t), "New role", "bob got MANAGE_ACCOUNTS, not MANAGE_PERMISSIONS")
	})

	t.Run("an API token is shown once with a copy button", func(t *testing.T) {
		b.click(t, "API tokens")
		b.see(t, "You have no API tokens.")
		b.typeInto(t, "Name", "nightly-export")
		b.click(t, "Create token")
		b.see(t, "Copy it now: it is shown only this once.")
		token := eval[string](t, b, `document.getElementById('new-token').textContent`)
		assert.True(t, strings.HasPrefix(token, "tdk_"), "token %q", token)
		b.shot(t, "tokens", false)
		b.open(t, "/tokens")
		b.see(t, "nightly-export")
		assert.NotContains(t, b.text(t), token, "the token was shown twice")
	})

	t.Run("signing out forgets the session, and signing in returns to the page asked for", func(t *testing.T) {
		b.signOut(t)
		b.do(t, chromedp.Reload())
		b.see(t, "Sign in to telemetryd")
		b.open(t, "/snapshots?status=failed")
		b.see(t, "Sign in to telemetryd")
		b.at(t, "/signin?next=%2Fsnapshots%3Fstatus%3Dfailed")
		b.signIn(t, "admin", adminPassword)
		b.see(t, "5 snapshots match")
		b.at(t, "/snapshots?status=failed")
	})

	t.Run("when the session ends elsewhere, the console asks to sign in and returns to the page", func(t *testing.T) {
		b.signOut(t)
		b.signIn(t, "bob", bobPassword)
		b.open(t, "/snapshots?end_date=2026-02-20")
		b.see(t, "44 snapshots match")
		logged := len(b.seenErrors())

		asAdmin(t, d.url, `mutation { setAccountDisabled(username: "bob", disabled: true) { disabled } }`)
		b.click(t, "Trends")
		b.see(t, "Sign in to telemetryd")
		b.at(t, "/signin?next=%2Ftrends")
		for _, e := range b.seenErrors()[logged:] {
			assert.Contains(t, e, "401", "the browser reports the refused requests, and nothing else")
		}
		b.forgetErrors(logged)

		asAdmin(t, d.url, `mutation { setAccountDisabled(username: "bob", disabled: false) { disabled } }`)
		b.signIn(t, "bob", bobPassword)
		b.see(t, "Trends")
		b.at(t, "/trends")
		b.signOut(t)
		b.signIn(t, "admin", adminPassword)
	})

	t.Run("the GraphiQL explorer queries as the signed-in caller", func(t *testing.T) {
		b.open(t, "/graphiql")
		b.do(t, chromedp.WaitVisible(chromedp.CSS(`.graphiql-container`)), chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
		b.see(t, `"username": "admin"`)
		b.shot(t, "graphiql", false)
	})

	t.Run("nothing left the server's origin and the console logged no errors", func(t *testing.T) {
		b.mu.Lock()
		defer b.mu.Unlock()
		assert.Empty(t, b.foreign, "requests to other origins")
		assert.Empty(t, b.errors, "console errors")
	})
}
