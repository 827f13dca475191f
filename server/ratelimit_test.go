package server

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimitMemoryIsBoundedWhateverTheNumberOfAddresses(t *testing.T) {
	l := newRateLimit(ReceiveRate)
	now := time.Now()
	flooder := netip.MustParseAddr("192.0.2.1")
	for range ReceiveRate {
		ok, _ := l.allow(flooder, now)
		require.True(t, ok)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		ok, _ := l.allow(a, now)
		require.True(t, ok, "a new address has its whole allowance")
	}

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	assert.Equal(t, maxLimited, l.len(), "the limit remembers at most maxLimited addresses")
	assert.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(16<<20), "100,000 addresses grew the heap by more than 16 MiB")

	// The flood pushed the first address out: it starts afresh, and is
	// limited again after its allowance.
	for range ReceiveRate {
		ok, _ := l.allow(flooder, now)
		require.True(t, ok)
	}
	ok, wait := l.allow(flooder, now)
	assert.False(t, ok)
	assert.Equal(t, time.Second, wait)
}

func TestRateLimitCountsAnIPv6NetworkAsOneSource(t *testing.T) {
	l := newRateLimit(2)
	now := time.Now()
	ok, _ := l.allow(netip.MustParseAddr("2001:db8::1"), now)
	require.True(t, ok)
	ok, _ = l.allow(netip.MustParseAddr("2001:db8::2"), now)
	require.True(t, ok)
	ok, _ = l.allow(netip.MustParseAddr("2001:db8::ffff:3"), now)
	assert.False(t, ok, "three addresses of one /64 share its allowance")
	ok, _ = l.allow(netip.MustParseAddr("2001:db8:0:1::1"), now)
	assert.True(t, ok, "another /64 has its own")
}
