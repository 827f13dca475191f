package embedded

import (
	"context"
	"github.com/telemetryd/telemetryd/store/storetest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// records returns every record as the API writes it, newest first.
func records(t *testing.T, s *Store) [][]byte {
	t.Helper()
	var out [][]byte
	require.NoError(t, s.EachSnapshot(context.Background(), telemetryd.Filter{}, func(snap *telemetryd.Snapshot) error {
		out = append(out, snap.AppendJSON(nil))
		return nil
	}))
	return out
}

// toLegacy rewrites the records that keep selects as the JSON values
// files held before the envelope, and forgets that the file was
// migrated.
func toLegacy(t *testing.T, s *Store, keep func(i int) bool) {
	t.Helper()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		var keys, values [][]byte
		i := 0
		err := b.ForEach(func(k, v []byte) error {
			if keep(i) {
				snap, err := decode(k, v)
				if err != nil {
					return err
				}
				value, err := snap.MarshalJSON()
				if err != nil {
					return err
				}
				keys, values = append(keys, clone(k)), append(values, value)
			}
			i++
			return nil
		})
		if err != nil {
			return err
		}
		for i := range keys {
			if err := b.Put(keys[i], values[i]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyRecordFormat)
	}))
}

func TestOpenMigratesJSONRecords(t *testing.T) {
	ctx := context.Background()
	from := time.Date(2020, 1, 1, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		legacy func(i int) bool
	}{
		{"a file of JSON records is rewritten in the envelope", func(int) bool { return true }},
		{"a migration cut short resumes", func(i int) bool { return i%3 != 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := open(dir, 50*time.Millisecond)
			require.NoError(t, err)
			// More than one migration batch, with every kind of send state.
			all := seedDays(t, s, 3, migrateBatch/2, from)
			_, err = s.UpdateSendStatus(ctx, all[0].ID, telemetryd.SendSent, from.AddDate(5, 0, 0), "")
			require.NoError(t, err)
			_, err = s.UpdateSendStatus(ctx, all[1].ID, telemetryd.SendFailed, from.AddDate(5, 0, 0), `remote said "no" <500>`)
			require.NoError(t, err)
			before := records(t, s)
			toLegacy(t, s, tc.legacy)
			require.NoError(t, s.Close())

			s = openTest(t, dir)

			assert.Equal(t, before, records(t, s), "every record reads back byte for byte")
			require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
				assert.Equal(t, []byte{recordFormat}, tx.Bucket(bucketMeta).Get(keyRecordFormat), "the file is marked migrated")
				return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
					assert.Equal(t, byte(recordFormat), v[0], "record %s is in the envelope", keyID(k))
					return nil
				})
			}))
			page, count, err := storetest.List(ctx, s, telemetryd.Filter{Limit: 2})
			require.NoError(t, err)
			assert.Equal(t, len(all), count)
			assert.Equal(t, all[0].ID, page[0].ID)
			assert.True(t, page[1].ChecksumValid())
			unsent, err := s.UnsentSnapshots(ctx, all[1].DeploymentID, from, 10)
			require.NoError(t, err)
			require.Len(t, unsent, 1)
			assert.Equal(t, `remote said "no" <500>`, unsent[0].RemoteSendError)
		})
	}
}

func TestOpenRefusesALegacyRecordItCannotRead(t *testing.T) {
	dir := t.TempDir()
	s, err := open(dir, 50*time.Millisecond)
	require.NoError(t, err)
	all := seedDays(t, s, 1, 3, time.Date(2020, 1, 1, 2, 0, 0, 0, time.UTC))
	toLegacy(t, s, func(int) bool { return true })
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketSnapshotIDs).Get([]byte(all[1].ID))
		v := tx.Bucket(bucketSnapshots).Get(k)
		return tx.Bucket(bucketSnapshots).Put(clone(k), clone(v[:len(v)/2]))
	}))
	require.NoError(t, s.Close())

	_, err = open(dir, 50*time.Millisecond)

	require.Error(t, err)
	assert.ErrorContains(t, err, all[1].ID, "the error names the record to repair")
}
