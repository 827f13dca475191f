package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// credentials is a stored login to one server.
type credentials struct {
	Server       string    `json:"server"`
	Username     string    `json:"username"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// credentialFile is where the login is kept: credentials.json in
// $XDG_CONFIG_HOME/telemetryctl/, else ~/.config/telemetryctl/, readable
// by its owner only since the tokens in it act as the account.
type credentialFile struct {
	getenv func(string) string
}

func newCredentialFile(getenv func(string) string) *credentialFile {
	return &credentialFile{getenv: getenv}
}

// path returns the file's path.
func (f *credentialFile) path() (string, error) {
	// XDG says a relative XDG_CONFIG_HOME is invalid and to be ignored.
	if dir := f.getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "telemetryctl", "credentials.json"), nil
	}
	if home := f.getenv("HOME"); home != "" {
		return filepath.Join(home, ".config", "telemetryctl", "credentials.json"), nil
	}
	return "", errors.New("cannot tell where to keep credentials: set XDG_CONFIG_HOME or HOME")
}

// load returns the stored login, or nil when there is none. Like ssh
// with a private key, it refuses a file that others may read: the tokens
// in it may already have leaked, and would go on leaking unnoticed.
func (f *credentialFile) load() (*credentials, error) {
	path, err := f.path()
	if err != nil {
		return nil, err
	}
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	defer file.Close()
	// Checked on the open file, so the mode is that of what is read.
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	if mode := info.Mode(); !mode.IsRegular() {
		return nil, fmt.Errorf("credentials %s are not a regular file: remove it and run `telemetryctl login`", path)
	} else if mode.Perm()&0o077 != 0 {
		return nil, fmt.Errorf("credentials %s may be read by others (mode %04o): run `chmod 600 %s`, or, if others did read them, `telemetryctl logout` and log in again",
			path, mode.Perm(), path)
	}
	b, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("credentials in %s are damaged (%v): run `telemetryctl login`", path, err)
	}
	return &c, nil
}

// lock waits for the exclusive lock on the stored login, which every
// telemetryctl takes from reading the login to storing what replaces it:
// the server takes each refresh token once, so two processes refreshing
// with the same one would leave one of them, and perhaps the file, with a
// spent token. unlock releases it.
func (f *credentialFile) lock(ctx context.Context) (unlock func(), err error) {
	path, err := f.path()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	name := filepath.Join(dir, "credentials.lock")
	file, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking credentials: %w", err)
	}
	locked := make(chan error, 1)
	go func() {
		for {
			err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX)
			if !errors.Is(err, syscall.EINTR) {
				locked <- err
				return
			}
		}
	}()
	select {
	case err := <-locked:
		if err != nil {
			file.Close()
			return nil, fmt.Errorf("locking credentials with %s: %w", name, err)
		}
		return func() { file.Close() }, nil // closing releases the lock
	case <-ctx.Done():
		// flock cannot be interrupted: release the lock whenever it comes.
		go func() {
			<-locked
			file.Close()
		}()
		return nil, ctx.Err()
	}
}

// save replaces the stored login atomically, so a concurrent command
// never reads half a file.
func (f *credentialFile) save(c *credentials) error {
	path, err := f.path()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// The directory is telemetryctl's own: close it to others even if it
	// was opened by hand, as the tokens' only protection is who may read
	// them. The owner's own bits are left as they are.
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return fmt.Errorf("restricting %s: %w", dir, err)
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".credentials.*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("storing credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("storing credentials: %w", err)
	}
	return nil
}

// remove deletes the stored login; no login is not an error.
func (f *credentialFile) remove() error {
	path, err := f.path()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting credentials: %w", err)
	}
	return nil
}

// expirySkew refreshes an access token this long before it expires, so it
// does not expire on its way to the server.
const expirySkew = 30 * time.Second

// storedLogin returns the stored login for this client's server, with an
// access token refreshed if it has expired; nil when not logged in to it.
func (c *client) storedLogin(ctx context.Context) (*credentials, error) {
	if c.login == nil {
		login, err := c.creds.load()
		if err != nil {
			return nil, err
		}
		if login == nil {
			return nil, nil
		}
		if login.Server != c.server {
			c.otherLogin = login.Server
			return nil, nil
		}
		c.login, c.stored = login, login.RefreshToken
	}
	if c.fresh(c.login) {
		return c.login, nil
	}
	return c.refresh(ctx, c.login)
}

// fresh reports whether login's access token will still be good when it
// reaches the server.
func (c *client) fresh(login *credentials) bool {
	return c.now().Add(expirySkew).Before(login.ExpiresAt)
}

// refresh replaces login, whose access token expired or was refused, with
// new tokens and stores them: the server revokes a refresh token once
// used, so the rotated one must be kept. It holds the credentials lock
// throughout, so another telemetryctl refreshing at the same time waits
// and then finds this one's tokens.
func (c *client) refresh(ctx context.Context, login *credentials) (*credentials, error) {
	unlock, err := c.creds.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A file unreadable now is passed over: the login in hand is all there
	// is, and saving tells whether the file can be replaced.
	stored, _ := c.creds.load()
	ours := true // whether the file is this login's to replace
	switch {
	case stored == nil || stored.RefreshToken == c.stored:
		// Unchanged since this process read or wrote it.
	case stored.Server != c.server || stored.Username != login.Username:
		// Replaced by another login meanwhile, which stays.
		ours = false
	default:
		// Another telemetryctl refreshed first: its tokens are the ones
		// the server still honours.
		c.login, c.stored, login = stored, stored.RefreshToken, stored
		if c.fresh(stored) {
			return stored, nil
		}
	}

	var data struct {
		RefreshToken authPayload `json:"refreshToken"`
	}
	err = c.anonymousGraphQL(ctx, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresAt } }`,
		map[string]any{"t": login.RefreshToken}, &data)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Code == codeUnauthenticated {
		return nil, &apiError{Code: codeUnauthenticated, Message: apiErr.Message}
	}
	if err != nil {
		return nil, fmt.Errorf("refreshing the access token: %w", err)
	}
	next := *login
	data.RefreshToken.apply(&next)
	// From here the old refresh token is spent: whatever happens to the
	// file, this process goes on with the new tokens.
	c.login = &next
	if !ours {
		return &next, nil
	}
	if err := c.creds.save(&next); err != nil {
		path, _ := c.creds.path()
		fmt.Fprintf(c.stderr, "telemetryctl: warning: could not store the refreshed login in %s (%v); this command goes on, but the next will need `telemetryctl login`\n", path, err)
		return &next, nil
	}
	c.stored = next.RefreshToken
	return &next, nil
}

// authPayload is what login and refreshToken return.
type authPayload struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

func (p authPayload) apply(c *credentials) {
	c.AccessToken, c.RefreshToken, c.ExpiresAt = p.AccessToken, p.RefreshToken, p.ExpiresAt
}
