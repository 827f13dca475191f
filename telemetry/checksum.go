package telemetry

import (
	"encoding/binary"
	"hash/maphash"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/telemetryd/telemetryd"
)

// checksumVerdictsKept bounds the verdicts remembered: a few pages of the
// largest listing.
const checksumVerdictsKept = 20_000

// checksumVerdicts remembers whether snapshots' checksums verify, keyed by
// a hash of exactly what is verified: every sealed member and the
// checksum, as read. Reading the same snapshots again then costs a fast
// hash instead of an RFC 8785 canonicalization of their data, while any
// change to a stored record, tampering included, gives another key and
// is verified afresh. The hash is hash/maphash under a seed drawn at
// random for each process and never shown, so no one who can edit the
// store can aim a changed record at a remembered verdict.
type checksumVerdicts struct {
	once  sync.Once
	seed  maphash.Seed
	cache *lru.Cache[uint64, bool]
}

// ChecksumValid reports whether snap's checksum matches its sealed
// members, computed from the snapshot as read.
func (s *Service) ChecksumValid(snap *telemetryd.Snapshot) bool {
	return s.checksums.valid(snap)
}

func (c *checksumVerdicts) valid(s *telemetryd.Snapshot) bool {
	c.once.Do(func() {
		c.seed = maphash.MakeSeed()
		c.cache, _ = lru.New[uint64, bool](checksumVerdictsKept) // fails only for a size below 1
	})
	key := c.key(s)
	if valid, ok := c.cache.Get(key); ok {
		return valid
	}
	valid := s.ChecksumValid()
	c.cache.Add(key, valid)
	return valid
}

// key hashes the sealed members and the checksum, each after its length,
// so no two different records run together into the same input.
func (c *checksumVerdicts) key(s *telemetryd.Snapshot) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var n [8]byte
	write := func(b []byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	writeString := func(str string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(str)))
		h.Write(n[:])
		h.WriteString(str)
	}
	binary.LittleEndian.PutUint64(n[:], uint64(s.CreatedAt.UnixNano()))
	h.Write(n[:])
	writeString(s.ID)
	writeString(s.Kind)
	writeString(s.PayloadFormat)
	writeString(s.DeploymentID)
	writeString(s.Version)
	writeString(s.Checksum)
	writeString(s.PreviousChecksum)
	write(s.Data)
	return h.Sum64()
}
