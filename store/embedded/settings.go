package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// SetSettingIfAbsent stores value under key unless key already has a value,
// and returns the value stored. Write transactions run one at a time, so
// concurrent first starts agree on one value.
func (s *Store) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	stored := value
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		if v := b.Get([]byte(key)); v != nil {
			stored = string(v)
			return nil
		}
		return b.Put([]byte(key), []byte(value))
	})
	if err != nil {
		return "", wrap("setting "+key, err)
	}
	return stored, nil
}
