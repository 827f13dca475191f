package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the networks of the reverse proxies whose
// X-Forwarded-For header telemetryd believes (--trusted-proxies). It is a
// pflag.Value: a comma-separated list of CIDRs or single addresses.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses a comma-separated list of CIDRs (10.0.0.0/8,
// fd00::/8) or single addresses; empty is none.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, field := range strings.Split(s, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		if p, err := netip.ParsePrefix(field); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(field)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an IP address", field)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// String lists the networks as ParseTrustedProxies reads them.
func (t *TrustedProxies) String() string {
	s := make([]string, len(*t))
	for i, p := range *t {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Set replaces the networks with those s lists.
func (t *TrustedProxies) Set(s string) error {
	p, err := ParseTrustedProxies(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// Type names the value in flag help.
func (t *TrustedProxies) Type() string { return "CIDRs" }

func (t TrustedProxies) trust(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// SourceOf returns the address a request came from: its peer's, unless
// the peer is a trusted proxy; then the nearest address in
// X-Forwarded-For that is not one, read from the right, where each proxy
// appends the address it heard from (what lies further left came from the
// client and may be forged). The zero Addr when the peer is unknown.
//
// This is the one computation of a request's source: the server puts its
// result in every request's context (see auth.Source), where the login
// throttle, the access log and any rate limit find it.
func (t TrustedProxies) SourceOf(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	source := peer.Addr().Unmap()
	if !t.trust(source) {
		return source
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return source // the trusted hop that passed on garbage
		}
		source = hop.Unmap()
		if !t.trust(source) {
			return source
		}
	}
	return source
}
