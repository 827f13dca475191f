package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// Records are stored in a binary envelope, so that reading one moves
// bytes instead of decoding JSON: its short members as length-prefixed
// text, then data exactly as it is served, which every way in keeps
// compact and valid. A CRC-32C over the envelope stands in for the JSON
// syntax check a JSON value got for free: a damaged record fails to
// decode, naming its id, instead of handing out bytes that are not JSON.
//
//	recordFormat  1 byte
//	crc32c        4 bytes, big-endian, of everything after it
//	created_at    varint, Unix microseconds
//	remote_send_at  1 byte (0 null, 1 set), then when set a varint of Unix microseconds
//	id, kind, payload_format, deployment_id, version, checksum,
//	previous_checksum, remote_send_status, remote_send_error
//	              each a uvarint length and its bytes; "" stands for null
//	data          the rest
//
// Files written before this envelope hold each record as its JSON; Open
// rewrites them once (migrateRecords).
const recordFormat = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errDamaged is why a stored record cannot be read.
var errDamaged = errors.New("record is damaged (its checksum over the stored bytes does not match)")

// encode returns the envelope of s.
func encode(s *telemetryd.Snapshot) ([]byte, error) {
	if s == nil || s.ID == "" || s.CreatedAt.IsZero() {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "a snapshot needs an id and created_at")
	}
	var strs [members]string
	strs[memberID], strs[memberKind], strs[memberPayloadFormat] = s.ID, s.Kind, s.PayloadFormat
	strs[memberDeploymentID], strs[memberVersion], strs[memberChecksum] = s.DeploymentID, s.Version, s.Checksum
	strs[memberPreviousChecksum], strs[memberRemoteSendStatus], strs[memberRemoteSendError] = s.PreviousChecksum, string(s.RemoteSendStatus), s.RemoteSendError
	size := 1 + 4 + 2*binary.MaxVarintLen64 + 1 + len(s.Data)
	for _, str := range strs {
		size += binary.MaxVarintLen64 + len(str)
	}
	b := make([]byte, 5, size)
	b[0] = recordFormat
	b = binary.AppendVarint(b, s.CreatedAt.UnixMicro())
	if s.RemoteSendAt.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, s.RemoteSendAt.UnixMicro())
	}
	for _, str := range strs {
		b = lengthPrefixed(b, str)
	}
	b = append(b, s.Data...)
	binary.BigEndian.PutUint32(b[1:5], crc32.Checksum(b[5:], castagnoli))
	return b, nil
}

// decode reads the record stored under snapshot key k. It copies what it
// keeps, so the snapshot outlives the transaction whose memory v points
// into: the short members share one string and data one slice. A damaged
// record fails with an internal error naming its id, so every read that
// reaches it fails rather than hand out data that is not JSON.
func decode(k, v []byte) (*telemetryd.Snapshot, error) {
	s, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("decoding stored snapshot %s: %w", keyID(k), err)
	}
	return s, nil
}

// The short members of the envelope, in order.
const (
	memberID = iota
	memberKind
	memberPayloadFormat
	memberDeploymentID
	memberVersion
	memberChecksum
	memberPreviousChecksum
	memberRemoteSendStatus
	memberRemoteSendError
	members
)

// envelope is a parsed record: where each part lies in v.
type envelope struct {
	v       []byte
	created int64
	sentAt  time.Time
	members [members][2]int // start and end of each short member
	data    int             // where data starts
}

// parseEnvelope checks v's CRC and finds its parts, copying nothing.
func parseEnvelope(v []byte) (envelope, error) {
	if len(v) < 5 || v[0] != recordFormat {
		return envelope{}, errors.New("not a stored record")
	}
	if binary.BigEndian.Uint32(v[1:5]) != crc32.Checksum(v[5:], castagnoli) {
		return envelope{}, errDamaged
	}
	e := envelope{v: v}
	r := reader{b: v, at: 5}
	e.created = r.varint()
	if r.byte() == 1 {
		e.sentAt = time.UnixMicro(r.varint()).UTC()
	}
	for i := range e.members {
		n := int(r.uvarint())
		if r.err != nil || n > len(v)-r.at {
			return envelope{}, errDamaged
		}
		e.members[i] = [2]int{r.at, r.at + n}
		r.at += n
	}
	if r.err != nil {
		return envelope{}, errDamaged
	}
	e.data = r.at
	return e, nil
}

func decodeRecord(v []byte) (*telemetryd.Snapshot, error) {
	e, err := parseEnvelope(v)
	if err != nil {
		return nil, err
	}
	s := &telemetryd.Snapshot{}
	fill(s, e, string(v[e.members[0][0]:e.data]), append([]byte(nil), v[e.data:]...))
	return s, nil
}

// pageReader decodes pages of records, reusing its memory from one page
// to the next: a page's snapshots are valid until the next one is read.
// Each page copies the short members of its records into one string, so
// those stay valid for as long as anyone holds them; data is either lent
// (it points into the read transaction, for a caller done with the page
// before the transaction ends) or copied into a buffer the next page
// overwrites.
type pageReader struct {
	keys [][]byte // the records read, for EachSnapshot
	vals [][]byte
	envs []envelope
	all  []telemetryd.Snapshot
	page []*telemetryd.Snapshot
	data []byte
}

// read decodes the records vals, stored under keys. With lend, each
// snapshot's data is the stored bytes themselves, valid only while the
// transaction that read them lasts.
func (r *pageReader) read(keys, vals [][]byte, lend bool) ([]*telemetryd.Snapshot, error) {
	r.envs = r.envs[:0]
	textLen, dataLen := 0, 0
	for i, v := range vals {
		e, err := parseEnvelope(v)
		if err != nil {
			return nil, fmt.Errorf("decoding stored snapshot %s: %w", keyID(keys[i]), err)
		}
		r.envs = append(r.envs, e)
		textLen += e.data - e.members[0][0]
		dataLen += len(v) - e.data
	}
	var text strings.Builder
	text.Grow(textLen)
	for _, e := range r.envs {
		text.Write(e.v[e.members[0][0]:e.data])
	}
	if !lend {
		r.data = slices.Grow(r.data[:0], dataLen)
		for _, e := range r.envs {
			r.data = append(r.data, e.v[e.data:]...)
		}
	}
	n := len(r.envs)
	r.all = slices.Grow(r.all[:0], n)[:n]
	r.page = slices.Grow(r.page[:0], n)[:n]
	texts, data := text.String(), r.data
	for i, e := range r.envs {
		t, m := e.data-e.members[0][0], len(e.v)-e.data
		d := e.v[e.data:len(e.v):len(e.v)]
		if !lend {
			d, data = data[:m:m], data[m:]
		}
		fill(&r.all[i], e, texts[:t], d)
		texts = texts[t:]
		r.page[i] = &r.all[i]
	}
	return r.page, nil
}

// lendPage calls fn, within the read transaction that read vals, with
// count and the page of their records, lending fn their stored data.
func lendPage(keys, vals [][]byte, count int, fn func(int, []*telemetryd.Snapshot) error) error {
	var r pageReader
	page, err := r.read(keys, vals, true)
	if err != nil {
		return err
	}
	return fn(count, page)
}

// fill sets s from the envelope e, given the text of its short members
// and its data, both copied out of the transaction.
func fill(s *telemetryd.Snapshot, e envelope, text string, data []byte) {
	first := e.members[0][0]
	str := func(i int) string { return text[e.members[i][0]-first : e.members[i][1]-first] }
	*s = telemetryd.Snapshot{
		ID:               str(memberID),
		CreatedAt:        time.UnixMicro(e.created).UTC(),
		Kind:             str(memberKind),
		PayloadFormat:    str(memberPayloadFormat),
		DeploymentID:     str(memberDeploymentID),
		Version:          str(memberVersion),
		Checksum:         str(memberChecksum),
		PreviousChecksum: str(memberPreviousChecksum),
		RemoteSendStatus: telemetryd.SendStatus(str(memberRemoteSendStatus)),
		RemoteSendAt:     e.sentAt,
		RemoteSendError:  str(memberRemoteSendError),
	}
	if len(data) > 0 {
		s.Data = data
	}
}

// decodeHead reads only what a filter by deployment or send status looks
// at, copying neither data nor the other members: a walk over many
// records allocates the deployment id alone.
func decodeHead(v []byte) (telemetryd.Snapshot, error) {
	e, err := parseEnvelope(v)
	if err != nil {
		return telemetryd.Snapshot{}, err
	}
	member := func(i int) []byte { return v[e.members[i][0]:e.members[i][1]] }
	return telemetryd.Snapshot{
		CreatedAt:        time.UnixMicro(e.created).UTC(),
		DeploymentID:     string(member(memberDeploymentID)),
		RemoteSendStatus: sendStatus(member(memberRemoteSendStatus)),
	}, nil
}

// sendStatus returns the status b names, as the constant when it is one.
func sendStatus(b []byte) telemetryd.SendStatus {
	for _, s := range []telemetryd.SendStatus{telemetryd.SendPending, telemetryd.SendSent, telemetryd.SendSkipped, telemetryd.SendFailed} {
		if string(b) == string(s) {
			return s
		}
	}
	return telemetryd.SendStatus(b)
}

// reader walks an envelope; the first overrun sets err.
type reader struct {
	b   []byte
	at  int
	err error
}

func (r *reader) varint() int64 {
	n, size := binary.Varint(r.b[min(r.at, len(r.b)):])
	if size <= 0 {
		r.err = errDamaged
		return 0
	}
	r.at += size
	return n
}

func (r *reader) uvarint() uint64 {
	n, size := binary.Uvarint(r.b[min(r.at, len(r.b)):])
	if size <= 0 {
		r.err = errDamaged
		return 0
	}
	r.at += size
	return n
}

func (r *reader) byte() byte {
	if r.at >= len(r.b) {
		r.err = errDamaged
		return 0
	}
	r.at++
	return r.b[r.at-1]
}

// migrateBatch bounds the records one migration transaction rewrites, so
// a large file is not rewritten in one transaction held in memory.
const migrateBatch = 2000

// keyRecordFormat, in bucketMeta, holds the record format every record
// of the file is in.
var keyRecordFormat = []byte("record_format")

// migrateRecords rewrites the records of a file written before the
// envelope, each from its JSON into the envelope, in transactions of
// migrateBatch records, then notes that the file is migrated so later
// opens skip the walk. A record is rewritten only when it is still JSON,
// so a migration cut short (a crash, a full disk) simply resumes at the
// next open; nothing reads the file before it completes. A record that
// is not valid JSON cannot be converted and fails the open naming it: the
// file needs a repair by hand (or a restore) rather than a silent loss.
func migrateRecords(db *bolt.DB) error {
	var done bool
	if err := db.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketMeta).Get(keyRecordFormat) != nil
		return nil
	}); err != nil || done {
		return err
	}
	var after []byte
	for {
		var last []byte
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSnapshots)
			c := b.Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			type rewrite struct{ key, value []byte }
			var rewrites []rewrite
			for n := 0; k != nil && n < migrateBatch; k, v = c.Next() {
				n++
				last = clone(k)
				if len(v) > 0 && v[0] == recordFormat {
					continue
				}
				s := new(telemetryd.Snapshot)
				if err := s.UnmarshalJSON(v); err != nil {
					return fmt.Errorf("converting stored snapshot %s: %w", keyID(k), err)
				}
				value, err := encode(s)
				if err != nil {
					return fmt.Errorf("converting stored snapshot %s: %w", keyID(k), err)
				}
				rewrites = append(rewrites, rewrite{clone(k), value})
			}
			// Written after the walk: a put under a bbolt cursor moves it.
			for _, r := range rewrites {
				if err := b.Put(r.key, r.value); err != nil {
					return err
				}
			}
			if k == nil {
				last = nil
				return tx.Bucket(bucketMeta).Put(keyRecordFormat, []byte{recordFormat})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrating records to the binary envelope: %w", err)
		}
		if last == nil {
			return nil
		}
		after = last
	}
}
