package graph

import (
	"context"
	"crypto/sha256"

	"github.com/99designs/gqlgen/graphql/handler/lru"

	"github.com/telemetryd/telemetryd"
)

// checksumVerdicts remembers whether snapshots' checksums verify, keyed by
// a SHA-256 of exactly what is verified (the sealed members and the
// checksum). Reading the same snapshots again then costs a hash instead of
// an RFC 8785 canonicalization of their data, while any change to a
// stored record, tampering included, misses the cache and is verified.
type checksumVerdicts struct {
	cache *lru.LRU[bool]
}

func newChecksumVerdicts() checksumVerdicts {
	return checksumVerdicts{cache: lru.New[bool](20_000)}
}

func (c checksumVerdicts) valid(ctx context.Context, s *telemetryd.Snapshot) bool {
	sum := sha256.Sum256(s.RemoteBody())
	key := string(sum[:])
	if valid, ok := c.cache.Get(ctx, key); ok {
		return valid
	}
	valid := s.ChecksumValid()
	c.cache.Add(ctx, key, valid)
	return valid
}
