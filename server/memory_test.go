package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/store/storetest"
)

// maxHeapGrowth is the bound this test holds the server to: the live and
// not yet collected heap of the whole test process (server and clients)
// while eight worst-case GraphQL requests run at once. Before the limits,
// one such request alone took the server from 28 MiB to 652 MiB of RSS.
const maxHeapGrowth = 256 << 20

func heapBytes() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func TestEightWorstCaseQueriesKeepTheHeapBounded(t *testing.T) {
	e := start(t)
	snaps := storetest.Chain(t, "dep-large", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 2000, 4096)
	_, err := e.store.ImportSnapshots(context.Background(), snaps)
	require.NoError(t, err)
	reader := e.account("reader", "telemetry-reader")

	// Ten aliases of the largest page: 744 bytes asking for 20,000 records,
	// 80 MB of data, within the complexity limit.
	var q strings.Builder
	q.WriteString("{")
	for i := range 10 {
		fmt.Fprintf(&q, " a%d: telemetrySnapshots(limit: 2000) { nodes { id data } }", i)
	}
	q.WriteString(" }")
	body, err := json.Marshal(map[string]any{"query": q.String()})
	require.NoError(t, err)

	runtime.GC()
	base := heapBytes()
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var high uint64
		for {
			select {
			case <-stop:
				peak <- high
				return
			case <-tick.C:
				high = max(high, heapBytes())
			}
		}
	}()

	codes := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i], errs[i] = firstErrorCode(e.url, reader, body) })
	}
	wg.Wait()
	close(stop)
	growth := int64(<-peak) - int64(base)
	t.Logf("heap grew by %d MiB at most", growth>>20)

	assert.Less(t, growth, int64(maxHeapGrowth), "heap growth in bytes")
	for i, code := range codes {
		require.NoError(t, errs[i])
		assert.Contains(t, []string{"BAD_USER_INPUT", "UNAVAILABLE"}, code, "request %d", i)
	}

	t.Run("a page within the budget is still served", func(t *testing.T) {
		var data struct {
			TelemetrySnapshots struct {
				Nodes []struct{ ID string } `json:"nodes"`
			} `json:"telemetrySnapshots"`
		}
		e.mustGraphQL(reader, `{ telemetrySnapshots(limit: 2000) { nodes { id data } } }`, nil, &data)
		assert.Len(t, data.TelemetrySnapshots.Nodes, 2000)
	})
}

// firstErrorCode posts a GraphQL request and returns its first error's
// code, "" when it has none, reading at most 1 MiB of the answer: the
// client must not weigh on the heap it measures.
func firstErrorCode(url, token string, body []byte) (string, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	defer io.Copy(io.Discard, res.Body)
	var out gqlResult
	if json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out) != nil {
		return "", nil // more than 1 MiB: an answer with data
	}
	return out.code(), nil
}
