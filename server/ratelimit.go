package server

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// maxLimited bounds the addresses a rateLimit remembers. When more send
// at once, the one heard from longest ago is forgotten, and starts again
// with a full allowance when it comes back: a flood from many addresses
// can cost each of them only its own allowance, and never memory.
const maxLimited = 16_384

// rateLimit allows each source address perMinute requests a minute, in
// bursts of up to perMinute, in bounded memory.
type rateLimit struct {
	perMinute int

	mu       sync.Mutex
	limiters *simplelru.LRU[netip.Addr, *rate.Limiter]
}

func newRateLimit(perMinute int) *rateLimit {
	lru, _ := simplelru.NewLRU[netip.Addr, *rate.Limiter](maxLimited, nil) // fails only for a size below 1
	return &rateLimit{perMinute: perMinute, limiters: lru}
}

// limitKey is the unit a limit applies to: an IPv4 address, or the /64
// network of an IPv6 one, since a single IPv6 host commonly holds a whole
// /64.
func limitKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a.Unmap()
}

// allow reports whether a request from addr at now may proceed and,
// when not, how long until it would.
func (l *rateLimit) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	key := limitKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.limiters.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMinute)), l.perMinute)
		l.limiters.Add(key, lim)
	}
	r := lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// len is how many addresses the limit remembers.
func (l *rateLimit) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limiters.Len()
}

// retryAfter is d as a Retry-After value: whole seconds, rounded up.
func retryAfter(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
