package telemetryd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/telemetryd/telemetryd"
)

// FuzzChecksum holds the checksum of every record to a second RFC 8785
// canonicalisation, written here from the RFC alone: a record's data
// must get the same checksum from both, and data one of them refuses the
// other must refuse too.
func FuzzChecksum(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"cores":2,"os":"linux","features":["a","b"],"nested":{"z":null,"a":true}}`,
		`{"n":[0,-0,1,-1,1.5,1e21,1e-7,1e-6,123456789012345678901,0.000001,5e-324,1.7976931348623157e308]}`,
		`{"s":"\u00e9\u20ac\ud83d\ude00\n\t\"\\\/\u0000\u001f\u007f\u2028"}`,
		`{"\u20ac":1,"\r":2,"\ud83d\ude00":3,"\ufb33":4,"1":5,"10":6,"":7}`,
		`{"huge":1e400}`,
		`{"a":1,"a":2}`,
		`{"lone":"\ud800"}`,
		` { "spaced" : [ 1 , 2 ] } `,
		"{\"bad\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	created := time.Date(2026, 11, 22, 2, 17, 5, 123456000, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			// Every way in (decoding, Validate, NewSnapshot's callers)
			// holds data to one JSON value.
			return
		}
		s := &telemetryd.Snapshot{
			ID:               "0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b",
			CreatedAt:        created,
			Kind:             telemetryd.Kind,
			PayloadFormat:    telemetryd.PayloadFormat,
			DeploymentID:     "5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b",
			Version:          "0.1.0",
			Data:             data,
			PreviousChecksum: strings.Repeat("ab", 32),
		}
		got, err := s.ComputeChecksum()
		want, wantErr := referenceChecksum(s)
		switch {
		case err != nil && wantErr == nil:
			t.Fatalf("data %q: the checksum refuses what RFC 8785 canonicalises: %v", data, err)
		case err == nil && wantErr != nil:
			t.Fatalf("data %q: the checksum accepts what RFC 8785 refuses: %v", data, wantErr)
		case err == nil && got != want:
			t.Fatalf("data %q: checksum %s, RFC 8785 gives %s", data, got, want)
		}
	})
}

// referenceChecksum is the contract's checksum computed by canonical.
func referenceChecksum(s *telemetryd.Snapshot) (string, error) {
	data, rest, err := parseValue(skipSpace(s.Data))
	if err != nil {
		return "", err
	}
	if len(skipSpace(rest)) > 0 {
		return "", errors.New("data has more after its value")
	}
	var previous any
	if s.PreviousChecksum != "" {
		previous = s.PreviousChecksum
	}
	sealed := object{
		{"created_at", s.CreatedAt.UTC().Format(telemetryd.TimeLayout)},
		{"data", data},
		{"deployment_id", s.DeploymentID},
		{"id", s.ID},
		{"kind", s.Kind},
		{"payload_format", s.PayloadFormat},
		{"previous_checksum", previous},
		{"version", s.Version},
	}
	b, err := canonical(nil, sealed)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// A parsed JSON value is nil, bool, float64, string, []any or object.
type object []member

type member struct {
	name  string
	value any
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

var errSyntax = errors.New("not JSON")

// parseValue parses the JSON value at the start of b (RFC 8259), with
// the I-JSON restrictions RFC 8785 relies on: numbers within IEEE 754
// double range, no duplicate member names, no lone surrogates.
func parseValue(b []byte) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errSyntax
	}
	switch c := b[0]; {
	case c == '{':
		return parseObject(b[1:])
	case c == '[':
		return parseArray(b[1:])
	case c == '"':
		return parseString(b[1:])
	case c == '-' || c >= '0' && c <= '9':
		return parseNumber(b)
	}
	for lit, v := range map[string]any{"true": true, "false": false, "null": nil} {
		if rest, ok := strings.CutPrefix(string(b), lit); ok {
			return v, b[len(b)-len(rest):], nil
		}
	}
	return nil, nil, errSyntax
}

func parseObject(b []byte) (any, []byte, error) {
	obj := object{}
	seen := map[string]bool{}
	b = skipSpace(b)
	if len(b) > 0 && b[0] == '}' {
		return obj, b[1:], nil
	}
	for {
		b = skipSpace(b)
		if len(b) == 0 || b[0] != '"' {
			return nil, nil, errSyntax
		}
		name, rest, err := parseString(b[1:])
		if err != nil {
			return nil, nil, err
		}
		if seen[name.(string)] {
			return nil, nil, errors.New("duplicate member name")
		}
		seen[name.(string)] = true
		b = skipSpace(rest)
		if len(b) == 0 || b[0] != ':' {
			return nil, nil, errSyntax
		}
		value, rest, err := parseValue(skipSpace(b[1:]))
		if err != nil {
			return nil, nil, err
		}
		obj = append(obj, member{name.(string), value})
		b = skipSpace(rest)
		if len(b) > 0 && b[0] == ',' {
			b = b[1:]
			continue
		}
		if len(b) > 0 && b[0] == '}' {
			return obj, b[1:], nil
		}
		return nil, nil, errSyntax
	}
}

func parseArray(b []byte) (any, []byte, error) {
	arr := []any{}
	b = skipSpace(b)
	if len(b) > 0 && b[0] == ']' {
		return arr, b[1:], nil
	}
	for {
		value, rest, err := parseValue(skipSpace(b))
		if err != nil {
			return nil, nil, err
		}
		arr = append(arr, value)
		b = skipSpace(rest)
		if len(b) > 0 && b[0] == ',' {
			b = b[1:]
			continue
		}
		if len(b) > 0 && b[0] == ']' {
			return arr, b[1:], nil
		}
		return nil, nil, errSyntax
	}
}

// parseString parses a string whose opening quote has been read.
func parseString(b []byte) (any, []byte, error) {
	var units []uint16 // the string as UTF-16, where surrogates pair up
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			if !pairedSurrogates(units) {
				return nil, nil, errors.New("lone surrogate")
			}
			return string(utf16.Decode(units)), b[i+1:], nil
		case c < 0x20:
			return nil, nil, errSyntax
		case c == '\\':
			if i+1 >= len(b) {
				return nil, nil, errSyntax
			}
			i += 2
			switch b[i-1] {
			case '"', '\\', '/':
				units = append(units, uint16(b[i-1]))
			case 'b':
				units = append(units, '\b')
			case 'f':
				units = append(units, '\f')
			case 'n':
				units = append(units, '\n')
			case 'r':
				units = append(units, '\r')
			case 't':
				units = append(units, '\t')
			case 'u':
				if i+4 > len(b) {
					return nil, nil, errSyntax
				}
				u, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
				if err != nil || strings.ContainsAny(string(b[i:i+4]), "+-_") {
					return nil, nil, errSyntax
				}
				units = append(units, uint16(u))
				i += 4
			default:
				return nil, nil, errSyntax
			}
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, nil, errors.New("invalid UTF-8")
			}
			units = utf16.AppendRune(units, r)
			i += size
		}
	}
	return nil, nil, errSyntax
}

func pairedSurrogates(units []uint16) bool {
	for i := 0; i < len(units); i++ {
		switch u := units[i]; {
		case u >= 0xd800 && u < 0xdc00:
			if i+1 >= len(units) || units[i+1] < 0xdc00 || units[i+1] >= 0xe000 {
				return false
			}
			i++
		case u >= 0xdc00 && u < 0xe000:
			return false
		}
	}
	return true
}

func parseNumber(b []byte) (any, []byte, error) {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return nil, nil, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, nil, errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, nil, errSyntax
		}
	}
	f, err := strconv.ParseFloat(string(b[:i]), 64)
	if err != nil {
		return nil, nil, errors.New("number out of range")
	}
	return f, b[i:], nil
}

// canonical appends v in RFC 8785 form: members sorted by their names'
// UTF-16 code units, no white space, strings with the fewest escapes,
// numbers as ECMAScript renders them.
func canonical(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return appendNumber(b, v), nil
	case string:
		return appendString(b, v), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = canonical(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case object:
		sorted := slices.Clone(v)
		slices.SortFunc(sorted, func(x, y member) int {
			return slices.Compare(utf16.Encode([]rune(x.name)), utf16.Encode([]rune(y.name)))
		})
		b = append(b, '{')
		for i, m := range sorted {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.name)
			b = append(b, ':')
			var err error
			if b, err = canonical(b, m.value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, errors.New("not a JSON value")
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// appendNumber renders f as ECMAScript's Number.prototype.toString does
// (ECMA-262, 7.1.12.1), from the shortest digits that read back as f.
func appendNumber(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0') // -0 too
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// d.ddde±x: the digits, and n such that f = 0.digits × 10^n.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mantissa, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	n, k := x+1, len(digits)
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		return append(b, strings.Repeat("0", n-k)...)
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		return append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, "0."...)
		b = append(b, strings.Repeat("0", -n)...)
		return append(b, digits...)
	}
	b = append(b, digits[0])
	if k > 1 {
		b = append(b, '.')
		b = append(b, digits[1:]...)
	}
	b = append(b, 'e')
	if n-1 >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendInt(b, int64(n-1), 10)
}
