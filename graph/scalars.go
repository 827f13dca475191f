package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/telemetryd/telemetryd"
)

// DateTime is a DateTime argument as the caller typed it. Whether a bare
// date means the start or the end of its day depends on the argument, so
// the resolver reads it with the domain's parser, the one REST and the
// CLIs use, naming the argument in its errors. On output it is a time in
// the records' layout.
type DateTime string

// newDateTime renders t, or returns nil (GraphQL null) for the zero time.
func newDateTime(t time.Time) *DateTime {
	if t.IsZero() {
		return nil
	}
	d := DateTime(t.UTC().Format(telemetryd.TimeLayout))
	return &d
}

// UnmarshalGQL accepts a string; the resolver reads it.
func (d *DateTime) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return telemetryd.Errorf(telemetryd.EINVALID, "DateTime must be a string")
	}
	*d = DateTime(s)
	return nil
}

// MarshalGQL writes the text as a JSON string.
func (d DateTime) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(string(d))) }

// MarshalStrictInt writes an Int.
func MarshalStrictInt(n int) graphql.Marshaler { return graphql.MarshalInt(n) }

// UnmarshalStrictInt reads an Int from a number only: gqlgen's own Int
// also takes a string such as "5", which GraphQL's input coercion does
// not allow. Variables arrive as json.Number, literals as int64.
func UnmarshalStrictInt(v any) (int, error) {
	switch v := v.(type) {
	case json.Number, int, int32, int64:
		n, err := graphql.UnmarshalInt(v)
		if err != nil {
			return 0, telemetryd.Errorf(telemetryd.EINVALID, "Int must be an integer in range: %v", err)
		}
		return n, nil
	}
	return 0, telemetryd.Errorf(telemetryd.EINVALID, "Int must be a number, not %T", v)
}

// MarshalTimestamp renders a time as the records do: UTC, six fractional digits
// and "Z".
func MarshalTimestamp(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(t.UTC().Format(telemetryd.TimeLayout)))
	})
}

// UnmarshalTimestamp reads an RFC 3339 time. gqlgen wants the pair, but no
// argument uses it: every DateTime argument binds to DateTime, which also
// takes bare dates.
func UnmarshalTimestamp(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("DateTime must be a string")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// MarshalJSON writes a JSON scalar's raw JSON, which every way in keeps
// compact and valid, as json.Marshal would, without scanning it again.
// The first JSON value of a request grows gqlgen's response buffer by the
// data the request was charged (see charged), so a page's response grows
// once instead of doubling its way up, copying and clearing as it goes.
func MarshalJSON(raw json.RawMessage) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(ctx context.Context, w io.Writer) error {
		var b []byte
		if buf, ok := w.(interface {
			Grow(n int)
			AvailableBuffer() []byte
		}); ok {
			// gqlgen's bytes.Buffer: append in place, no copy of our own.
			buf.Grow(len(raw) + len("null") + unwrittenData(ctx))
			b = buf.AvailableBuffer()
		}
		_, err := w.Write(telemetryd.AppendRawJSON(b, raw))
		return err
	})
}

// UnmarshalJSON encodes a JSON scalar's input value as JSON.
func UnmarshalJSON(_ context.Context, v any) (json.RawMessage, error) { return json.Marshal(v) }
