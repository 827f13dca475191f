package server_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/server"
)

func TestTheSourceAddressOfARequest(t *testing.T) {
	proxies, err := server.ParseTrustedProxies("10.0.0.0/8, 192.0.2.1, fd00::/8")
	require.NoError(t, err)
	cases := []struct {
		name, peer string
		forwarded  []string // X-Forwarded-For headers
		want       string
		proxies    server.TrustedProxies
	}{
		{"the peer without trusted proxies", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5", nil},
		{"the peer when it is no trusted proxy", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5", proxies},
		{"the client a trusted proxy names", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1", proxies},
		{"the nearest untrusted hop, not the forgeable leftmost", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1, 192.0.2.1"}, "198.51.100.1", proxies},
		{"hops over several headers", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1", proxies},
		{"the proxy itself without the header", "10.1.2.3:4000", nil, "10.1.2.3", proxies},
		{"the hop that passed on garbage", "10.1.2.3:4000", []string{"198.51.100.1, garbage"}, "10.1.2.3", proxies},
		{"an IPv6 client behind an IPv6 proxy", "[fd00::1]:4000", []string{"2001:db8::7"}, "2001:db8::7", proxies},
		{"an IPv4-mapped peer as IPv4", "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5", proxies},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, f := range tc.forwarded {
				r.Header.Add("X-Forwarded-For", f)
			}
			assert.Equal(t, netip.MustParseAddr(tc.want), tc.proxies.SourceOf(r))
		})
	}

	_, err = server.ParseTrustedProxies("10.0.0.0/8,proxy.internal")
	assert.ErrorContains(t, err, `"proxy.internal" is neither a CIDR`)
}
