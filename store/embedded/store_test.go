package embedded

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
}

// openTest opens a store in dir that closes when the test ends, waiting
// only briefly for the file lock.
func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := open(dir, 50*time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpen(t *testing.T) {
	t.Run("second open of a directory in use fails naming it", func(t *testing.T) {
		dir := t.TempDir()
		openTest(t, dir)

		_, err := open(dir, 50*time.Millisecond)

		require.Error(t, err)
		assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err))
		assert.Contains(t, err.Error(), "in use by another process")
		assert.Contains(t, err.Error(), dir)
	})
	t.Run("directory freed by close opens again", func(t *testing.T) {
		dir := t.TempDir()
		first, err := open(dir, 50*time.Millisecond)
		require.NoError(t, err)
		require.NoError(t, first.Close())

		openTest(t, dir)
	})
	t.Run("missing directory is created private", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "data")
		openTest(t, dir)

		info, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())
		info, err = os.Stat(filepath.Join(dir, FileName))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	})
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := open(dir, 50*time.Millisecond)
	require.NoError(t, err)
	day := time.Date(2026, 11, 22, 2, 17, 5, 123456000, time.UTC)
	snap := storetest.NewSnapshot(t, "dep", day, nil, 64)
	require.NoError(t, s.CreateSnapshot(ctx, snap))
	_, err = s.UpdateSendStatus(ctx, snap.ID, telemetryd.SendFailed, day, "timeout")
	require.NoError(t, err)
	_, err = s.SetSettingIfAbsent(ctx, "k", "v1")
	require.NoError(t, err)
	require.NoError(t, s.UpdateAccess(ctx, func(a *store.Access) error {
		a.Accounts = append(a.Accounts, &telemetryd.Account{ID: "a1", Username: "admin", Roles: []string{"super-admin"}, CreatedAt: day})
		a.Roles = append(a.Roles, &telemetryd.Role{Name: "super-admin", Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}})
		return nil
	}))
	tok := &telemetryd.Token{ID: "t1", Kind: telemetryd.APIToken, AccountID: "a1", Hash: "h1", CreatedAt: day}
	require.NoError(t, s.CreateToken(ctx, tok))
	require.NoError(t, s.AddActivity(ctx, "2026-11-22", map[string]int64{"logins": 3}))
	require.NoError(t, s.Close())

	s = openTest(t, dir)

	got, err := s.Snapshot(ctx, snap.ID)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.SendFailed, got.RemoteSendStatus)
	assert.True(t, got.ChecksumValid())
	page, count, err := storetest.List(ctx, s, telemetryd.Filter{})
	require.NoError(t, err)
	assert.Equal(t, 1, count)
	assert.Len(t, page, 1)
	latest, err := s.LatestSnapshot(ctx, "dep")
	require.NoError(t, err)
	assert.Equal(t, snap.ID, latest.ID)
	unsent, err := s.UnsentSnapshots(ctx, "dep", day, 10)
	require.NoError(t, err)
	assert.Len(t, unsent, 1)
	v, err := s.SetSettingIfAbsent(ctx, "k", "v2")
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	a, err := s.Access(ctx)
	require.NoError(t, err)
	require.Len(t, a.Accounts, 1)
	assert.Equal(t, []string{"super-admin"}, a.Accounts[0].Roles)
	assert.True(t, day.Equal(a.Accounts[0].CreatedAt))
	require.Len(t, a.Roles, 1)
	gotTok, err := s.TokenByHash(ctx, "h1")
	require.NoError(t, err)
	assert.Equal(t, "t1", gotTok.ID)
	activity, err := s.ActivityOn(ctx, "2026-11-22")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"logins": 3}, activity)
	err = s.CreateSnapshot(ctx, storetest.NewSnapshot(t, "dep", day.Add(time.Hour), nil, 64))
	assert.Equal(t, telemetryd.ECONFLICT, telemetryd.ErrorCode(err), "day index survives reopen")
}

// A file written before the unsent index was keyed by deployment has its
// legacy index moved over on open.
func TestOpenMigratesLegacyUnsentIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	day := time.Date(2026, 11, 22, 2, 17, 5, 0, time.UTC)
	s, err := open(dir, 50*time.Millisecond)
	require.NoError(t, err)
	mine := storetest.NewSnapshot(t, "dep-a", day, nil, 64)
	theirs := storetest.NewSnapshot(t, "dep-b", day, nil, 64)
	sent := storetest.NewSnapshot(t, "dep-a", day.AddDate(0, 0, 1), mine, 64)
	sent.RemoteSendStatus = telemetryd.SendSent
	_, err = s.ImportSnapshots(ctx, store.Batch([]*telemetryd.Snapshot{mine, theirs, sent}))
	require.NoError(t, err)
	// Rewrite the index as the previous release kept it.
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		legacy, err := tx.CreateBucket(legacyBucketSnapshotUnsent)
		if err != nil {
			return err
		}
		for _, snap := range []*telemetryd.Snapshot{mine, theirs} {
			if err := legacy.Put(snapshotKey(snap), []byte(telemetryd.SendPending)); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketSnapshotUnsent); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketSnapshotUnsent)
		return err
	}))
	require.NoError(t, s.Close())

	s = openTest(t, dir)

	got, err := s.UnsentSnapshots(ctx, "dep-a", day.AddDate(0, 0, 2), 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, mine.ID, got[0].ID)
	got, err = s.UnsentSnapshots(ctx, "dep-b", day.AddDate(0, 0, 2), 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, theirs.ID, got[0].ID)
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(legacyBucketSnapshotUnsent), "the legacy index is dropped")
		return nil
	}))
}

// Usernames became unique regardless of case; a file holding accounts
// that differ only in case is refused, naming them, rather than guessed at.
func TestOpenRefusesUsernamesThatDifferOnlyInCase(t *testing.T) {
	dir := t.TempDir()
	s, err := open(dir, 50*time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"Admin", "admin", "bob"} {
			v, err := json.Marshal(accountRecord{ID: name + "-id", Username: name, PasswordHash: "hash"})
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketAccounts).Put([]byte(name), v); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Close())

	_, err = open(dir, 50*time.Millisecond)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"Admin" and "admin"`)
	assert.NotContains(t, err.Error(), "bob")
}
