package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// fakeListing serves the REST listing's semantics over records that a
// test changes between pages, which a real server cannot be made to do on
// cue.
type fakeListing struct {
	mu       sync.Mutex
	records  []*telemetryd.Snapshot // newest first
	requests int
	between  func(f *fakeListing) // runs after each answered page
}

func (f *fakeListing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	var filter telemetryd.Filter
	if v := q.Get("start_date"); v != "" {
		filter.Start, _ = telemetryd.ParseStartDate(v)
	}
	if v := q.Get("end_date"); v != "" {
		filter.End, _ = telemetryd.ParseEndDate(v)
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	var matching []*telemetryd.Snapshot
	for _, s := range f.records {
		if filter.Contains(s.CreatedAt) {
			matching = append(matching, s)
		}
	}
	page := matching[min(offset, len(matching)):min(offset+limit, len(matching))]
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(snapshotList{Count: len(matching), Snapshots: page})
	f.requests++
	if f.between != nil {
		f.between(f)
	}
}

// record returns a snapshot created at at; the pager needs ids and times.
func record(id int, at time.Time) *telemetryd.Snapshot {
	return &telemetryd.Snapshot{ID: strconv.Itoa(100000 + id), CreatedAt: at, RemoteSendStatus: telemetryd.SendSkipped, Data: json.RawMessage(`{}`)}
}

func TestEachSnapshotPagesStay(t *testing.T) {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	newestFirst := func(n int, at func(i int) time.Time) []*telemetryd.Snapshot {
		recs := make([]*telemetryd.Snapshot, n)
		for i := range n {
			recs[n-1-i] = record(i, at(i))
		}
		// Ties in created_at list by id, descending, as the server does.
		slices.SortStableFunc(recs, func(a, b *telemetryd.Snapshot) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return -compareStrings(a.ID, b.ID)
		})
		return recs
	}
	daily := func(i int) time.Time { return base.AddDate(0, 0, i) }

	tests := []struct {
		name    string
		records []*telemetryd.Snapshot
		between func(f *fakeListing)
	}{
		{
			name:    "snapshots arriving meanwhile are left out and shift nothing",
			records: newestFirst(2500, daily),
			between: func(f *fakeListing) {
				// Newer than every record, as new snapshots are.
				f.records = append([]*telemetryd.Snapshot{record(10000+f.requests, base.AddDate(0, 0, 10000+f.requests))}, f.records...)
			},
		},
		{
			name: "more than a page created at one instant is neither skipped nor repeated",
			records: newestFirst(2600, func(i int) time.Time {
				if i >= 500 && i < 2100 {
					return base.AddDate(0, 0, 500)
				}
				return daily(i)
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeListing{records: slices.Clone(tt.records), between: tt.between}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newClient(srv.URL, "token", func(string) string { return "" }, io.Discard)

			var got []string
			var count int
			err := c.eachSnapshot(context.Background(), dateFlags{}, func(n int) { count = n }, func(s *telemetryd.Snapshot) error {
				got = append(got, s.ID)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, len(tt.records), count)
			assert.Equal(t, ids(tt.records), got, "every record there at the start, in listing order")
		})
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ids(snaps []*telemetryd.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID
	}
	return out
}
