package neo4j_test

import (
	"testing"

	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func BenchmarkReceive(b *testing.B) { storetest.BenchmarkReceive(b, neo4jtest.Open(b)) }
