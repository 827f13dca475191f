package exportfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// FuzzDecode holds the import's reading of a file to encoding/json's: the
// same files are JSON arrays to both, with the same records, white space
// squeezed or not; it never panics; and a record that validates writes
// back as itself.
func FuzzDecode(f *testing.F) {
	snaps := storetest.Chain(f, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 2, 20)
	var recs []string
	for _, s := range snaps {
		b, err := s.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		recs = append(recs, string(b))
	}
	for _, seed := range []string{
		"[]",
		"[" + recs[1] + ",\n" + recs[0] + "]\n",
		" \t\r\n[ \n" + recs[0] + " \n ] \n",
		"\ufeff[" + recs[0] + "]",
		"[" + strings.Replace(recs[0], `"data":{`, `"data":{"huge":1e400,"s":"a  b\" \\\"",`, 1) + "]",
		"[1, \"two\", [3], {\"id\":\"x\"}, null]",
		"[1 2]",
		"[,]",
		"[" + recs[0] + ",]",
		"[] []",
		`["\"]", "\\", "\\\"  "]`,
		"{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		var decoded []json.RawMessage
		err := exportfile.Decode(bytes.NewReader(file), func(_ int, s *telemetryd.Snapshot, err error) error {
			if err != nil {
				decoded = append(decoded, nil)
				return nil
			}
			b, merr := s.MarshalJSON()
			if merr != nil {
				t.Fatalf("a decoded record does not encode: %v", merr)
			}
			decoded = append(decoded, b)
			if s.Validate() == nil {
				again := new(telemetryd.Snapshot)
				if err := json.Unmarshal(b, again); err != nil || !again.Equal(s) || !again.ChecksumValid() {
					t.Fatalf("record %s does not write back as itself: %s (%v)", s.ID, b, err)
				}
			}
			return nil
		})

		var reference []json.RawMessage
		refErr := json.Unmarshal(bytes.TrimPrefix(file, []byte("\ufeff")), &reference)
		if refErr == nil && reference == nil {
			refErr = errors.New("null is no array") // encoding/json reads it as an empty slice
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("file %q: Decode says %v, encoding/json says %v", file, err, refErr)
		}
		if err != nil {
			return
		}
		if len(decoded) != len(reference) {
			t.Fatalf("file %q: Decode read %d records, encoding/json %d", file, len(decoded), len(reference))
		}
		for i, raw := range reference {
			var s telemetryd.Snapshot
			if json.Unmarshal(raw, &s) != nil {
				if decoded[i] != nil {
					t.Fatalf("file %q: record %d decodes, but not as encoding/json reads it", file, i+1)
				}
				continue
			}
			want, _ := s.MarshalJSON()
			if !bytes.Equal(want, decoded[i]) {
				t.Fatalf("file %q: record %d reads as %s, encoding/json as %s", file, i+1, decoded[i], want)
			}
		}
	})
}
