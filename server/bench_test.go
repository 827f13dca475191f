package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// BenchmarkListPage measures one page of 50 snapshots of about 4 KB, with
// its count, over loopback HTTP on the embedded store, one request at a
// time. `make bench` compares both routes with the store's own query
// under 16 concurrent clients.
func BenchmarkListPage(b *testing.B) {
	e := start(b)
	_, err := e.store.ImportSnapshots(b.Context(), store.Batch(storetest.Chain(b, "bench", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 2000, 4096)))
	require.NoError(b, err)
	client := &http.Client{}
	fetch := func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+e.admin)
		res, err := client.Do(req)
		require.NoError(b, err)
		_, err = io.Copy(io.Discard, res.Body)
		require.NoError(b, err)
		res.Body.Close()
		require.Equal(b, http.StatusOK, res.StatusCode)
	}
	b.Run("REST", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/telemetry/snapshots?limit=50&offset=%d", e.url, i%40*50), nil)
			fetch(req)
		}
	})
	// A filter by status reads every record of the range on the embedded
	// store (the counters count by time only).
	b.Run("REST by status", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/telemetry/snapshots?status=pending&limit=50&offset=%d", e.url, i%40*50), nil)
			fetch(req)
		}
	})
	b.Run("telemetryStatus", func(b *testing.B) {
		for b.Loop() {
			body, _ := json.Marshal(map[string]any{"query": `{ telemetryStatus { nextRunAt latest { id } countsByStatus { status count } } }`})
			req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			fetch(req)
		}
	})
	b.Run("GraphQL", func(b *testing.B) {
		page := func(i int) {
			body, _ := json.Marshal(map[string]any{
				"query":     `query($o: Int) { telemetrySnapshots(limit: 50, offset: $o) { count nodes { ` + snapshotFields + ` } } }`,
				"variables": map[string]int{"o": i % 40 * 50},
			})
			req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			fetch(req)
		}
		// Every page once first: the steady state remembers each
		// record's checksum verdict.
		for i := range 40 {
			page(i)
		}
		for i := 0; b.Loop(); i++ {
			page(i)
		}
	})
}

// BenchmarkExport measures GET /api/telemetry/export of 2,000 snapshots of
// about 4 KB over loopback HTTP on the embedded store.
func BenchmarkExport(b *testing.B) {
	e := start(b)
	_, err := e.store.ImportSnapshots(b.Context(), store.Batch(storetest.Chain(b, "bench", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 2000, 4096)))
	require.NoError(b, err)
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/export", nil)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		res, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, res.Body)
		require.NoError(b, err)
		res.Body.Close()
		require.Equal(b, http.StatusOK, res.StatusCode)
		b.SetBytes(n)
	}
}
