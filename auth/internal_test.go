package auth

// Tests of the cache and the bcrypt slots, which need to hold a load or a
// slot open and so reach inside the package.

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
)

// heldLoads is an accessCache load that announces each call and answers it
// only when the test says what the store holds.
type heldLoads struct {
	calls chan chan *store.Access
}

func (h *heldLoads) load(ctx context.Context) (*store.Access, error) {
	reply := make(chan *store.Access)
	select {
	case h.calls <- reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case a := <-reply:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// accessWith returns what a store holding the one account username holds.
func accessWith(username string) *store.Access {
	return &store.Access{Accounts: []*telemetryd.Account{{ID: username, Username: username}}}
}

func usernameIn(t *testing.T, v *accessView) string {
	t.Helper()
	require.NotNil(t, v)
	require.Len(t, v.byName, 1)
	for name := range v.byName {
		return name
	}
	return ""
}

type getResult struct {
	view *accessView
	err  error
}

// getAsync runs c.get on its own goroutine.
func getAsync(ctx context.Context, c *accessCache, fresh bool) <-chan getResult {
	out := make(chan getResult, 1)
	go func() {
		v, err := c.get(ctx, fresh)
		out <- getResult{v, err}
	}()
	return out
}

// timeout bounds waits that would otherwise hang a broken test.
func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAnInvalidationDuringALoadIsNotLost(t *testing.T) {
	h := &heldLoads{calls: make(chan chan *store.Access)}
	c := &accessCache{load: h.load, now: func() time.Time { return start }}

	first := getAsync(timeout(t), c, false)
	reply := <-h.calls // the load is under way, reading the store before a change
	c.invalidate()     // the change is committed; this must not wait for the load
	reply <- accessWith("before")
	got := <-first
	require.NoError(t, got.err)
	assert.Equal(t, "before", usernameIn(t, got.view), "a caller whose request overlapped the change may see the state before it")

	// The load began before the invalidation: it must not be kept.
	second := getAsync(timeout(t), c, false)
	(<-h.calls) <- accessWith("after")
	got = <-second
	require.NoError(t, got.err)
	assert.Equal(t, "after", usernameIn(t, got.view))

	// That one is kept: a get answers without a load (one would block on
	// h.calls until the deadline).
	v, err := c.get(timeout(t), false)
	require.NoError(t, err)
	assert.Equal(t, "after", usernameIn(t, v))
}

func TestAHangingLoadHoldsUpNoCallerPastItsDeadline(t *testing.T) {
	h := &heldLoads{calls: make(chan chan *store.Access)}
	c := &accessCache{load: h.load, now: func() time.Time { return start }}

	first := getAsync(timeout(t), c, false)
	reply := <-h.calls // the store hangs

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.get(ctx, true)
	require.Error(t, err)
	assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err), "error: %v", err)

	reply <- accessWith("admin")
	got := <-first
	require.NoError(t, got.err, "the load went on for the caller still waiting")
	assert.Equal(t, "admin", usernameIn(t, got.view))
}

func TestConcurrentCallersShareOneLoad(t *testing.T) {
	var loads atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	c := &accessCache{
		now: func() time.Time { return start },
		load: func(context.Context) (*store.Access, error) {
			if loads.Add(1) == 1 {
				close(started)
			}
			<-release
			return accessWith("admin"), nil
		},
	}
	first := getAsync(timeout(t), c, false)
	<-started
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			v, err := c.get(timeout(t), false)
			assert.NoError(t, err)
			assert.Equal(t, "admin", usernameIn(t, v))
		})
	}
	close(release)
	wg.Wait()
	require.NoError(t, (<-first).err)
	assert.Equal(t, int32(1), loads.Load())
}

func TestBcryptSlotsBoundConcurrentWork(t *testing.T) {
	s := &Service{bcrypt: newBcryptGate(1)}
	s.bcrypt.slots <- struct{}{} // the one slot is taken

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	ran := false
	go func() { done <- s.withBcryptSlot(ctx, func() { ran = true }) }()
	cancel()
	assert.Equal(t, errBusy, <-done, "a caller gives up when its context ends")
	assert.False(t, ran)

	go func() { done <- s.withBcryptSlot(context.Background(), func() { ran = true }) }()
	<-s.bcrypt.slots // the work under way ends
	require.NoError(t, <-done)
	assert.True(t, ran, "a waiting caller runs once a slot is free")
	assert.Empty(t, s.bcrypt.slots, "and frees its slot")
}

// signalingStore tells the test each time the accounts were read.
type signalingStore struct {
	*embedded.Store
	read chan struct{}
}

func (s *signalingStore) Access(ctx context.Context) (*store.Access, error) {
	a, err := s.Store.Access(ctx)
	s.read <- struct{}{}
	return a, err
}

var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestABusyLoginDoesNotCountAgainstTheThrottle(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ss := &signalingStore{Store: st, read: make(chan struct{}, 100)}
	s := New(Config{Store: ss, PasswordCost: bcrypt.MinCost, Now: func() time.Time { return start }})
	const password = "correct horse battery"
	_, err = s.Bootstrap(context.Background(), password, "")
	require.NoError(t, err)
	for len(ss.read) > 0 {
		<-ss.read
	}
	assert.Equal(t, runtime.GOMAXPROCS(0), cap(s.bcrypt.slots))

	// Every slot is taken by work under way.
	for range cap(s.bcrypt.slots) {
		s.bcrypt.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Login(ctx, telemetryd.AdminUsername, password)
		done <- err
	}()
	<-ss.read // past the throttle and (nearly always) the store: waiting for a slot
	cancel()
	err = <-done
	require.Error(t, err)
	assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err), "error: %v", err)

	for range cap(s.bcrypt.slots) {
		<-s.bcrypt.slots
	}
	// The busy attempt checked no password, so it did not count against
	// the throttle: after four failures the fifth attempt still gets in.
	for range 4 {
		_, err := s.Login(context.Background(), telemetryd.AdminUsername, "wrong password!!")
		assert.Equal(t, telemetryd.EUNAUTHENTICATED, telemetryd.ErrorCode(err))
	}
	_, err = s.Login(context.Background(), telemetryd.AdminUsername, password)
	require.NoError(t, err)
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("timed out waiting until " + what)
		}
	}
}

func TestTheBcryptQueueFailsFastAndSharesPlacesBetweenSources(t *testing.T) {
	s := &Service{bcrypt: newBcryptGate(1)} // one slot, two waiting places, two places per source
	from := func(addr string) context.Context {
		return WithSource(context.Background(), netip.MustParseAddr(addr))
	}
	waiting := func() int {
		s.bcrypt.mu.Lock()
		defer s.bcrypt.mu.Unlock()
		return s.bcrypt.waiting
	}

	release := make(chan struct{})
	done := make(chan error, 3)
	go func() { done <- s.withBcryptSlot(from("192.0.2.1"), func() { <-release }) }()
	waitFor(t, "the first comparison runs", func() bool { return len(s.bcrypt.slots) == 1 })
	go func() { done <- s.withBcryptSlot(from("192.0.2.1"), func() {}) }()
	waitFor(t, "a second one from the same source waits", func() bool { return waiting() == 1 })

	assert.Equal(t, errBusy, s.withBcryptSlot(from("192.0.2.1"), func() {}),
		"a source holding its share is refused at once, not queued")
	go func() { done <- s.withBcryptSlot(from("198.51.100.7"), func() {}) }()
	waitFor(t, "another source still finds a place", func() bool { return waiting() == 2 })
	assert.Equal(t, errBusy, s.withBcryptSlot(from("203.0.113.9"), func() {}),
		"a full queue refuses at once")

	close(release)
	for range 3 {
		require.NoError(t, <-done, "everyone admitted gets their turn")
	}
	assert.Empty(t, s.bcrypt.held, "every place is given back")
	assert.Zero(t, waiting())
}
