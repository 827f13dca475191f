package embedded

import (
	"bytes"
	"context"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd/store"
)

// bboltModule is the module whose version Stats reports as the server's.
const bboltModule = "go.etcd.io/bbolt"

// recordBuckets names each bucket of records by the label its records
// carry in the Neo4j store, so the two backends' stats compare. Snapshots
// and activity days are counted apart: see Stats.
var recordBuckets = []struct {
	label  string
	bucket []byte
}{
	{"Account", bucketAccounts},
	{"Role", bucketRoles},
	{"Token", bucketTokens},
	{"Setting", bucketSettings},
	{"TelemetryDeployment", bucketDeployments},
}

// indexBuckets are the store's secondary indexes, each written in the
// transaction of the record it points to, and whether the store relies on
// it to refuse duplicates. snapshot_counts is left out: it holds counts,
// not keys, like Neo4j's count store, which SHOW INDEXES does not list
// either.
var indexBuckets = []struct {
	bucket []byte
	unique bool
}{
	{bucketSnapshotIDs, true},          // snapshot id
	{bucketSnapshotDays, true},         // one snapshot per deployment and UTC day
	{bucketTokenHashes, true},          // token hash
	{bucketSnapshotUnsent, false},      // failed and pending snapshots
	{bucketTokenLists, false},          // tokens by account and kind
	{bucketDeploymentsLastSeen, false}, // deployment summaries by last seen
}

// Stats measures the store in one read transaction, in time that does not
// grow with the number of snapshots. DatabaseType is "bbolt" and
// ServerVersion the bbolt module version the binary was built with, empty
// when the binary carries no build information.
//
// Record kinds are reported as the labels the Neo4j store gives them:
// TelemetrySnapshot from the snapshot counters, ActivityDay as the number
// of days with counters (one seek per day), and Account, Role, Token and
// Setting as the key counts of their buckets, which bbolt reads from page
// headers without decoding records. Nodes is their sum; the store keeps
// no relationships, so Relationships is 0 and RelationshipsByType empty.
//
// Indexes counts the secondary index buckets (snapshot id, deployment
// day, token hash, unsent snapshots, tokens by account) and Constraints
// the three of them that enforce uniqueness: snapshot id, deployment day
// and token hash. The uniqueness of a record bucket's own key (username,
// role name, token id, setting key) is not counted: a key-value store
// cannot hold a key twice, so it is no rule the store adds. EUNAVAILABLE
// when the store is closed.
func (s *Store) Stats(ctx context.Context) (*store.Stats, error) {
	st := &store.Stats{
		DatabaseType:        "bbolt",
		ServerVersion:       moduleVersion(bboltModule),
		NodesByLabel:        map[string]int64{},
		RelationshipsByType: map[string]int64{},
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSnapshots) != nil {
			st.NodesByLabel["TelemetrySnapshot"] = int64(countAll(tx))
		}
		for _, r := range recordBuckets {
			if b := tx.Bucket(r.bucket); b != nil {
				st.NodesByLabel[r.label] = int64(b.Stats().KeyN)
			}
		}
		if b := tx.Bucket(bucketActivity); b != nil {
			st.NodesByLabel["ActivityDay"] = activityDays(b)
		}
		for _, idx := range indexBuckets {
			if tx.Bucket(idx.bucket) == nil {
				continue
			}
			st.Indexes++
			if idx.unique {
				st.Constraints++
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("reading embedded store stats", err)
	}
	for _, n := range st.NodesByLabel {
		st.Nodes += n
	}
	return st, nil
}

// activityDays counts the days with activity counters. Keys are
// day + "/" + name, so after a day's first key, seeking to day + "0" (the
// byte after "/") lands on the next day, skipping that day's counters.
func activityDays(b *bolt.Bucket) int64 {
	var n int64
	c := b.Cursor()
	for k, _ := c.First(); k != nil; {
		n++
		day, _, ok := bytes.Cut(k, []byte("/"))
		if !ok {
			k, _ = c.Next()
			continue
		}
		k, _ = c.Seek(append(clone(day), '/'+1))
	}
	return n
}

// moduleVersion returns the version of the module at path the running
// binary was built with, or "" when unknown.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, dep := range info.Deps {
		if dep.Path != path {
			continue
		}
		if dep.Replace != nil {
			return dep.Replace.Version
		}
		return dep.Version
	}
	return ""
}
