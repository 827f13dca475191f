package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// load returns the stored login, or nil when there is none.
func (f *credentialFile) load() (*credentials, error) {
	path, err := f.path()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("credentials in %s are damaged (%v): run `telemetryctl login`", path, err)
	}
	return &c, nil
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
	// The directory is telemetryctl's own: close it even if it was made
	// wider by hand, as the tokens' only protection is who may read them.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("restricting %s: %w", dir, err)
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
		c.login = login
	}
	if c.now().Add(expirySkew).Before(c.login.ExpiresAt) {
		return c.login, nil
	}
	return c.refresh(ctx, c.login)
}

// refresh exchanges the login's refresh token for new tokens and stores
// them: the server revokes a refresh token once used, so the rotated one
// must be kept.
func (c *client) refresh(ctx context.Context, login *credentials) (*credentials, error) {
	var data struct {
		RefreshToken authPayload `json:"refreshToken"`
	}
	err := c.anonymousGraphQL(ctx, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken expiresAt } }`,
		map[string]any{"t": login.RefreshToken}, &data)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Code == codeUnauthenticated {
		// Another telemetryctl may have refreshed first and stored the
		// rotated token: use that if it is fresh.
		if stored, loadErr := c.creds.load(); loadErr == nil && stored != nil && stored.Server == c.server &&
			stored.RefreshToken != login.RefreshToken && c.now().Add(expirySkew).Before(stored.ExpiresAt) {
			c.login = stored
			return stored, nil
		}
		return nil, &apiError{Code: codeUnauthenticated, Message: apiErr.Message}
	}
	if err != nil {
		return nil, fmt.Errorf("refreshing the access token: %w", err)
	}
	next := *login
	data.RefreshToken.apply(&next)
	if err := c.creds.save(&next); err != nil {
		return nil, err
	}
	c.login = &next
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
