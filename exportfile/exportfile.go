// Package exportfile reads and writes snapshot export files: a JSON array
// of records, newest first, written atomically and read as a stream.
package exportfile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// Encoder writes an export file's JSON array, one record a line, to a
// stream: the format Decode reads. Call Add for each record, newest first,
// then Close, which ends the array; the Encoder buffers, so nothing may
// write to the stream in between.
type Encoder struct {
	w   io.Writer
	n   int
	buf []byte
}

// encodeBatch is about how many bytes of records an Encoder gathers for
// each write: few enough writes that the system calls cost little, and a
// small, fixed part of the heap.
const encodeBatch = 256 << 10

// NewEncoder starts an export array on w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, buf: make([]byte, 0, encodeBatch+16<<10)}
}

// Add writes one record, as the REST routes do: the record's own JSON
// (telemetryd.Snapshot.AppendJSON), whose data is written as stored
// rather than scanned again by encoding/json. Records are appended to one
// buffer that is written whenever it holds encodeBatch bytes, so each is
// copied once on its way out.
func (e *Encoder) Add(s *telemetryd.Snapshot) error {
	if e.n == 0 {
		e.buf = append(e.buf, "[\n"...)
	} else {
		e.buf = append(e.buf, ",\n"...)
	}
	e.buf = s.AppendJSON(e.buf)
	e.n++
	if len(e.buf) < encodeBatch {
		return nil
	}
	return e.flush()
}

func (e *Encoder) flush() error {
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// Count returns how many records were added.
func (e *Encoder) Count() int { return e.n }

// Close ends the array and writes what is buffered; it does not close the
// stream.
func (e *Encoder) Close() error {
	end := "\n]\n"
	if e.n == 0 {
		end = "[\n]\n"
	}
	e.buf = append(e.buf, end...)
	return e.flush()
}

// Write writes the snapshots that each yields to path as a JSON array, one
// record a line (see Encoder), through a temporary file in the same
// directory renamed into place, so readers never see a partial export. It
// returns how many records it wrote; on error path is untouched.
func Write(path string, each func(yield func(*telemetryd.Snapshot) error) error) (n int, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("creating export file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	enc := NewEncoder(tmp)
	if err := each(enc.Add); err != nil {
		return 0, fmt.Errorf("writing export file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return 0, fmt.Errorf("writing export file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("syncing export file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("closing export file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("moving export file into place: %w", err)
	}
	// The rename lasts through a crash only once the directory is synced.
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return enc.Count(), nil
}

// Decode walks the JSON array in r, calling fn for each record with its
// position (from 0) and either the decoded snapshot or why it could not
// be decoded, with as much of the snapshot as its id where that reads. Only the array's own syntax stops the walk early, or an
// error that fn returns.
func Decode(r io.Reader, fn func(index int, s *telemetryd.Snapshot, err error) error) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 256<<10))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return telemetryd.Errorf(telemetryd.EINVALID, "export file must hold a JSON array of snapshots")
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return telemetryd.Errorf(telemetryd.EINVALID, "record %d: invalid JSON: %v", i+1, err)
		}
		s := new(telemetryd.Snapshot)
		err := json.Unmarshal(raw, s)
		if err != nil {
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &head)
			s = &telemetryd.Snapshot{ID: head.ID}
		}
		if err := fn(i, s, err); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return telemetryd.Errorf(telemetryd.EINVALID, "export file does not end its JSON array: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return telemetryd.Errorf(telemetryd.EINVALID, "export file has more after its JSON array")
	}
	return nil
}

// Read decodes and validates every record of an export file. When any
// record is malformed or fails its checksum it returns no snapshots and
// one EINVALID error naming each bad record by id (or position, where the
// id cannot be read) with its reason.
func Read(r io.Reader) ([]*telemetryd.Snapshot, error) {
	var (
		snaps    []*telemetryd.Snapshot
		problems []string
	)
	err := Decode(r, func(i int, s *telemetryd.Snapshot, err error) error {
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", label(i, s), err))
			return nil
		}
		snaps = append(snaps, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "%d of %d records are invalid:\n  %s",
			len(problems), len(problems)+len(snaps), strings.Join(problems, "\n  "))
	}
	return snaps, nil
}

// Verify checks the checksums and chains of an export file in constant
// memory. Records that cannot be decoded count as problems too.
func Verify(r io.Reader) (*telemetryd.Verifier, error) {
	v := telemetryd.NewVerifier()
	err := Decode(r, func(i int, s *telemetryd.Snapshot, err error) error {
		if err != nil {
			v.ReportCorrupt(label(i, s), err.Error())
			return nil
		}
		v.Add(s)
		return nil
	})
	return v, err
}

func label(i int, s *telemetryd.Snapshot) string {
	if s != nil && s.ID != "" {
		return s.ID
	}
	return fmt.Sprintf("record %d", i+1)
}
