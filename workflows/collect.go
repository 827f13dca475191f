package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"
)

// CollectionErrors is the member of a snapshot's data listing, by name,
// the sections that could not be measured.
const CollectionErrors = "collection_errors"

// DefaultSectionTimeout bounds each section when Runner.SectionTimeout is
// zero.
const DefaultSectionTimeout = 5 * time.Second

// Section is one named part of a snapshot's data. An embedding
// application adds its own by appending to Runner.Sections.
//
// Collect measures the section at now, the one clock reading of the
// collection (the snapshot's created_at). It must return a value
// encoding/json can marshal, must honour ctx
// (it gets a deadline of a few seconds) and must never return usernames,
// hostnames, IP addresses, secrets or other free text. A failure, a panic
// or a missed deadline does not fail the snapshot: the section's value
// becomes null and its name is listed in collection_errors.
type Section interface {
	Name() string
	Collect(ctx context.Context, now time.Time) (any, error)
}

// result is what one section produced.
type result struct {
	value json.RawMessage
	err   error
}

// collect runs every section at once, each under its own deadline, and
// returns the data object: one member per section plus collection_errors.
// It never fails because of a section; onError hears about each failure.
func collect(ctx context.Context, sections []Section, now time.Time, timeout time.Duration, onError func(name string, err error)) (json.RawMessage, error) {
	if timeout <= 0 {
		timeout = DefaultSectionTimeout
	}
	results := make([]chan result, len(sections))
	for i, s := range sections {
		// Buffered so a section that outlives its deadline can still
		// finish and be garbage collected instead of blocking forever.
		results[i] = make(chan result, 1)
		go func() { results[i] <- collectOne(ctx, s, now, timeout) }()
	}

	data := make(map[string]json.RawMessage, len(sections)+1)
	failed := []string{}
	// Every section started together, so one deadline serves them all;
	// the runner does not wait for a section that ignores its context.
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	expired := false
	for i, s := range sections {
		var r result
		if expired {
			select {
			case r = <-results[i]:
			default:
				r.err = fmt.Errorf("no answer within %s", timeout)
			}
		} else {
			select {
			case r = <-results[i]:
			case <-deadline.C:
				expired = true
				r.err = fmt.Errorf("no answer within %s", timeout)
			}
		}
		if r.err != nil {
			onError(s.Name(), r.err)
			failed = append(failed, s.Name())
			r.value = json.RawMessage("null")
		}
		data[s.Name()] = r.value
	}
	raw, err := json.Marshal(failed)
	if err != nil {
		return nil, fmt.Errorf("encoding collection errors: %w", err)
	}
	data[CollectionErrors] = raw
	out, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encoding snapshot data: %w", err)
	}
	return out, nil
}

// collectOne runs one section under its deadline, turning a panic into an
// error so an embedding application's bug cannot take the server down.
func collectOne(ctx context.Context, s Section, now time.Time, timeout time.Duration) (r result) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r = result{err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	v, err := s.Collect(ctx, now)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return result{err: err}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return result{err: fmt.Errorf("encoding: %w", err)}
	}
	return result{value: raw}
}

// checkSections rejects sections whose names would collide in the data
// object; that is a wiring mistake, not a collection failure.
func checkSections(sections []Section) error {
	seen := make(map[string]bool, len(sections))
	for _, s := range sections {
		name := s.Name()
		switch {
		case name == "":
			return fmt.Errorf("a telemetry section has an empty name")
		case name == CollectionErrors:
			return fmt.Errorf("telemetry section name %q is reserved", name)
		case seen[name]:
			return fmt.Errorf("two telemetry sections are named %q", name)
		}
		seen[name] = true
	}
	return nil
}
