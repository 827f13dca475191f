package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// BenchmarkReceive measures ReceiveSnapshot from 16 concurrent senders,
// each snapshot of its own deployment and about 1 KB, as a receiver
// takes them in; it reports snapshots a second.
func BenchmarkReceive(b *testing.B, st store.Store) {
	ctx := context.Background()
	snaps := make([]*telemetryd.Snapshot, b.N)
	at := time.Now().UTC().AddDate(0, 0, -1)
	for i := range snaps {
		snaps[i] = received(NewSnapshot(b, fmt.Sprintf("bench-%s-%d", at.Format("150405.000000"), i), at, nil, 1024))[0]
	}
	var next atomic.Int64
	b.SetParallelism(max(16/runtime.GOMAXPROCS(0), 1))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.ReceiveSnapshot(ctx, snaps[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "snapshots/s")
}
