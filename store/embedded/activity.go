package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// Activity counters are keyed day + "/" + name; days have a fixed width,
// so a day's counters are exactly the keys under its prefix.
func activityPrefix(day string) ([]byte, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "activity day %q is not a date (2006-01-02)", day)
	}
	return []byte(day + "/"), nil
}

// AddActivity adds deltas to the named counters of the UTC day in one
// transaction; EINVALID when day is not a YYYY-MM-DD date.
func (s *Store) AddActivity(ctx context.Context, day string, deltas map[string]int64) error {
	prefix, err := activityPrefix(day)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActivity)
		for name, delta := range deltas {
			k := append(prefix[:len(prefix):len(prefix)], name...)
			var cur int64
			if v := b.Get(k); v != nil {
				cur = int64(binary.BigEndian.Uint64(v))
			}
			if err := b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(cur+delta))); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("adding activity of "+day, err)
}

// ActivityOn returns the counters of the UTC day, an empty map when none
// were added; EINVALID when day is not a YYYY-MM-DD date.
func (s *Store) ActivityOn(ctx context.Context, day string) (map[string]int64, error) {
	prefix, err := activityPrefix(day)
	if err != nil {
		return nil, err
	}
	counters := map[string]int64{}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActivity).Cursor()
		for k, v := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, v = c.Next() {
			counters[string(k[len(prefix):])] = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("reading activity of "+day, err)
	}
	return counters, nil
}
