package embedded

import (
	"testing"

	"github.com/telemetryd/telemetryd/store/storetest"
)

func BenchmarkReceive(b *testing.B) { storetest.BenchmarkReceive(b, openTest(b, b.TempDir())) }
