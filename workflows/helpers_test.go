package workflows_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/storetest"
	"github.com/telemetryd/telemetryd/workflows"
)

// testDeployment is the deployment id of every test runner.
const testDeployment = "5d1c7a2e-8f3b-4c6d-9e0a-1b2c3d4e5f60"

// day1 is a Sunday morning, late enough that the default test schedule
// (02:00 plus jitter) has passed.
var day1 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// openStore opens a fresh embedded store that closes with the test.
func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// fakeClock is a settable clock whose waits the test sees and fires.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan fakeWait
	stop  chan struct{}
}

// fakeWait is one call to After: how long the runner wants to wait and
// the channel that ends the wait.
type fakeWait struct {
	d    time.Duration
	fire chan time.Time
}

func newClock(t *testing.T, now time.Time) *fakeClock {
	c := &fakeClock{now: now, waits: make(chan fakeWait), stop: make(chan struct{})}
	t.Cleanup(func() { close(c.stop) })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// After hands the wait to the test, which must take it with nextWait.
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	w := fakeWait{d: d, fire: make(chan time.Time, 1)}
	select {
	case c.waits <- w:
	case <-c.stop:
	}
	return w.fire
}

// nextWait returns the runner's next wait, failing the test when the
// runner does not wait within a generous real-time deadline.
func (c *fakeClock) nextWait(t *testing.T) fakeWait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the runner never waited")
		return fakeWait{}
	}
}

// elapse moves the clock past the wait and ends it.
func (c *fakeClock) elapse(w fakeWait) {
	c.Advance(w.d)
	w.fire <- c.Now()
}

// receiver is a real HTTP receiver on loopback that counts connections
// and requests.
type receiver struct {
	*httptest.Server
	conns  atomic.Int32
	hits   atomic.Int32
	mu     sync.Mutex
	bodies [][]byte
}

func newReceiver(t *testing.T, handler http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		var body json.RawMessage
		if err := json.NewDecoder(req.Body).Decode(&body); err == nil {
			r.mu.Lock()
			r.bodies = append(r.bodies, body)
			r.mu.Unlock()
		}
		handler(w, req)
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

func answer(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }
}

// newSender returns a sender to endpoint, failing the test on a bad
// configuration.
func newSender(t *testing.T, endpoint string, enabled bool, timeout time.Duration) *workflows.Sender {
	t.Helper()
	s, err := workflows.NewSender(workflows.SenderConfig{Endpoint: endpoint, Timeout: timeout, Enabled: enabled})
	require.NoError(t, err)
	return s
}

// offSender is remote sending turned off.
func offSender(t *testing.T) *workflows.Sender {
	return newSender(t, "https://telemetry.example/v1/snapshots", false, time.Second)
}

// newRunner returns a runner of testDeployment on st with the built-in
// sections that need no injected measurement, reading clock.
func newRunner(st workflows.Store, sender *workflows.Sender, clock *fakeClock) *workflows.Runner {
	return &workflows.Runner{
		Store:        st,
		DeploymentID: testDeployment,
		Sender:       sender,
		Sections: []workflows.Section{
			&workflows.InstanceSection{DeploymentID: testDeployment, Version: telemetryd.Version, Started: clock.Now(), Getenv: func(string) string { return "" }},
			workflows.ProcessSection{},
		},
		Schedule: 2 * time.Hour,
		Now:      clock.Now,
		After:    clock.After,
	}
}

// runScheduledDay lets r's scheduled run do the day's work, which must be
// due at clock's time: the run, the backlog and the pruning. It returns
// once Run waits for the next day, having stopped it.
func runScheduledDay(t *testing.T, r *workflows.Runner, clock *fakeClock) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	clock.nextWait(t)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// snapshots lists every stored snapshot, newest first.
func snapshots(t *testing.T, st store.Snapshots) []*telemetryd.Snapshot {
	t.Helper()
	got, _, err := storetest.List(context.Background(), st, telemetryd.Filter{Limit: telemetryd.MaxLimit})
	require.NoError(t, err)
	return got
}

// storeSnapshot stores a sealed snapshot of testDeployment created at at
// with the given status, chained to the latest, as an earlier run would
// have left it.
func storeSnapshot(t *testing.T, st store.Snapshots, at time.Time, status telemetryd.SendStatus) *telemetryd.Snapshot {
	t.Helper()
	ctx := context.Background()
	prev, err := st.LatestSnapshot(ctx, testDeployment)
	if telemetryd.ErrorCode(err) == telemetryd.ENOTFOUND {
		prev, err = nil, nil
	}
	require.NoError(t, err)
	s := telemetryd.NewSnapshot(testDeployment, telemetryd.Version, json.RawMessage(`{"collection_errors":[]}`), at, prev)
	s.RemoteSendStatus = status
	require.NoError(t, s.Seal())
	require.NoError(t, st.CreateSnapshot(ctx, s))
	return s
}

// metricValue returns the value of the named counter or gauge with the
// given outcome label ("" for none), as /metrics would show it.
func metricValue(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			label := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					label = l.GetValue()
				}
			}
			if label != outcome {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{outcome=%q}", name, outcome)
	return 0
}

// newFailingReceiver answers status until recovered is set, then 200.
func newFailingReceiver(t *testing.T, status int) (*receiver, *atomic.Bool) {
	t.Helper()
	var recovered atomic.Bool
	recv := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		if !recovered.Load() {
			w.WriteHeader(status)
		}
	})
	return recv, &recovered
}

// runTogether starts RunOnce on every runner at the same moment and
// returns what each got.
func runTogether(t *testing.T, runners ...*workflows.Runner) []*telemetryd.Snapshot {
	t.Helper()
	var wg sync.WaitGroup
	results := make([]*telemetryd.Snapshot, len(runners))
	start := make(chan struct{})
	for i, r := range runners {
		wg.Go(func() {
			<-start
			snap, err := r.RunOnce(context.Background())
			assert.NoError(t, err)
			results[i] = snap
		})
	}
	close(start)
	wg.Wait()
	return results
}
