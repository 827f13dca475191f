package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/telemetryd/telemetryd"
)

// Limits on what requests may make the server hold. Records are held
// while a response is built, and the response once more, so memory follows
// the bytes of snapshot data in flight.
const (
	// MaxResponseData bounds the bytes of snapshot data the queries of one
	// request may return: a request asking for more is refused.
	MaxResponseData = 32 << 20
	// LargeComplexity is the complexity (about the number of records) past
	// which an operation is large: at most MaxLargeOperations of those run
	// at once.
	LargeComplexity = 2 * telemetryd.DefaultLimit
	// MaxLargeOperations bounds the large operations running at once.
	MaxLargeOperations = 2
	// AdmissionWait bounds how long a large operation waits for its turn
	// before it is refused with UNAVAILABLE.
	AdmissionWait = 10 * time.Second
)

// admission lets at most MaxLargeOperations large operations run at once,
// each until its response has been written, and gives each request a
// budget of MaxResponseData.
type admission struct {
	slots chan struct{}
}

func newAdmission() *admission {
	return &admission{slots: make(chan struct{}, MaxLargeOperations)}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*admission)(nil)

// requestBudget is what one request has used of its limits.
type requestBudget struct {
	// mu runs the request's data-loading query fields one at a time (see
	// charged), so each sees what the ones before it returned before it
	// loads anything.
	mu   sync.Mutex
	data int
	// slot is held from admission until the response is written.
	slot bool
	// written says the response buffer was grown for data (see
	// unwrittenData).
	written bool
}

// unwrittenData returns, once per request, the bytes of snapshot data
// charged to it, about what its response will hold; 0 after the first call.
func unwrittenData(ctx context.Context) int {
	b, _ := ctx.Value(budgetKey{}).(*requestBudget)
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written {
		return 0
	}
	b.written = true
	return b.data
}

type budgetKey struct{}

// wrap gives each request a budget and frees the request's slot once the
// response has been written.
func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := &requestBudget{}
		defer func() {
			if b.slot {
				<-a.slots
			}
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), budgetKey{}, b)))
	})
}

func (*admission) ExtensionName() string                   { return "Admission" }
func (*admission) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext waits for a slot for a large operation, until
// AdmissionWait has passed or the request ends. It runs after the
// complexity limit, which measures the operation.
func (a *admission) MutateOperationContext(ctx context.Context, _ *graphql.OperationContext) *gqlerror.Error {
	stats := extension.GetComplexityStats(ctx)
	b, _ := ctx.Value(budgetKey{}).(*requestBudget)
	if stats == nil || stats.Complexity <= LargeComplexity || b == nil {
		return nil
	}
	wait := time.NewTimer(AdmissionWait)
	defer wait.Stop()
	select {
	case a.slots <- struct{}{}:
		b.slot = true
		return nil
	case <-wait.C:
		return unavailable("the server is busy with other large requests; retry later or ask for fewer records")
	case <-ctx.Done():
		return unavailable("the request ended while waiting for its turn")
	}
}

// charged runs load, the loading of a query field that returns snapshot
// data, one at a time among the request's fields that do, and charges
// what it returns to the request's budget: it refuses the field when the
// fields before it have spent the budget, or when its result would pass
// it. It is called by the resolvers that load data rather than wrapped
// around every field, which would cost a call for each field of each
// record.
func charged[T any](ctx context.Context, load func() (T, error)) (T, error) {
	b, _ := ctx.Value(budgetKey{}).(*requestBudget)
	if b == nil {
		return load()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var none T
	if b.data > MaxResponseData {
		return none, errTooMuchData
	}
	res, err := load()
	b.data += dataBytes(res)
	if b.data > MaxResponseData {
		return none, errTooMuchData
	}
	return res, err
}

var errTooMuchData = telemetryd.Errorf(telemetryd.EINVALID,
	"one request may return at most %d MiB of snapshot data; ask for fewer records (limit) in each query", MaxResponseData>>20)

// recordOverhead is about what a record holds besides its data.
const recordOverhead = 512

// dataBytes is about how many bytes a query field's result holds.
func dataBytes(res any) int {
	switch res := res.(type) {
	case *TelemetrySnapshotConnection:
		if res == nil {
			return 0
		}
		n := 0
		for _, s := range res.Nodes {
			n += recordOverhead + len(s.Data)
		}
		return n
	case *Snapshot:
		if res == nil {
			return 0
		}
		return recordOverhead + len(res.Data)
	case json.RawMessage:
		return len(res)
	}
	return 0
}
