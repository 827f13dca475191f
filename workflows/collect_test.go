package workflows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/workflows"
)

// section is a Section an embedding application might register.
type section struct {
	name    string
	collect func(ctx context.Context) (any, error)
}

func (s section) Name() string { return s.name }

func (s section) Collect(ctx context.Context, _ time.Time) (any, error) {
	if s.collect == nil {
		return map[string]int{"value": 1}, nil
	}
	return s.collect(ctx)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestFailingSectionsGiveNullAndTheRunSucceeds(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) })

	runner := newRunner(st, offSender(t), newClock(t, day1))
	runner.SectionTimeout = 200 * time.Millisecond
	runner.Sections = []workflows.Section{
		section{name: "measured_nothing", collect: func(context.Context) (any, error) { return 0, nil }},
		section{name: "measured", collect: func(context.Context) (any, error) { return map[string]int{"widgets": 3}, nil }},
		section{name: "fails", collect: func(context.Context) (any, error) { return nil, errors.New("backend down") }},
		section{name: "panics", collect: func(context.Context) (any, error) { panic("a bug in an embedding application") }},
		section{name: "slow", collect: func(ctx context.Context) (any, error) {
			<-ctx.Done()
			return 1, nil // too late: the deadline has passed
		}},
		section{name: "ignores_its_deadline", collect: func(context.Context) (any, error) {
			<-hung
			return 1, nil
		}},
		section{name: "unencodable", collect: func(context.Context) (any, error) { return make(chan int), nil }},
	}

	start := time.Now()
	snap, err := runner.RunOnce(ctx)
	require.NoError(t, err, "a failing section never fails the run")
	assert.Less(t, time.Since(start), 5*time.Second, "the run waited past the sections' deadline")

	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(snap.Data, &data))
	assert.JSONEq(t, `0`, string(data["measured_nothing"]), "0 is measured nothing, not null")
	assert.JSONEq(t, `{"widgets":3}`, string(data["measured"]))
	for _, name := range []string{"fails", "panics", "slow", "ignores_its_deadline", "unencodable"} {
		assert.JSONEq(t, `null`, string(data[name]), name)
	}
	var failed []string
	require.NoError(t, json.Unmarshal(data[workflows.CollectionErrors], &failed))
	assert.ElementsMatch(t, []string{"fails", "panics", "slow", "ignores_its_deadline", "unencodable"}, failed)
	assert.True(t, snap.ChecksumValid())
}

func TestCollectionErrorsIsAnEmptyListWhenAllSucceed(t *testing.T) {
	snap, err := newRunner(openStore(t), offSender(t), newClock(t, day1)).RunOnce(context.Background())
	require.NoError(t, err)
	var data map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(snap.Data, &data))
	assert.JSONEq(t, `[]`, string(data[workflows.CollectionErrors]))
}
