package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// settingJWTSecret is the setting holding the generated JWT secret,
// base64-encoded.
const settingJWTSecret = "jwt_secret"

// Bootstrap prepares the store and the service, idempotently, on every
// start: it creates the built-in roles super-admin {SUPER_ADMIN} and
// telemetry-reader {READ_TELEMETRY} when missing and the account admin
// holding super-admin when missing, all in one UpdateAccess so replicas
// starting together agree. The admin's password is adminPassword, or a
// generated one that Bootstrap returns so the caller can show it once; it
// returns "" when the admin existed already (an existing admin's password
// is never changed) or adminPassword was given.
//
// Access tokens are signed with jwtSecret, or, when it is empty, with 32
// random bytes generated once and kept in the store, so tokens survive
// restarts and replicas sharing the store accept each other's tokens.
//
// EINVALID for an adminPassword ValidatePassword refuses or a jwtSecret
// shorter than MinSecretLength bytes; store errors otherwise.
func (s *Service) Bootstrap(ctx context.Context, adminPassword, jwtSecret string) (string, error) {
	if adminPassword != "" {
		if err := ValidatePassword(adminPassword); err != nil {
			return "", fmt.Errorf("admin %w", err)
		}
	}
	key, err := s.loadSecret(ctx, jwtSecret)
	if err != nil {
		return "", err
	}
	s.secret.Store(&key)

	a, err := s.store.Access(ctx)
	if err != nil {
		return "", fmt.Errorf("reading accounts: %w", err)
	}
	// Hash only when the admin is missing: bcrypt is slow by design.
	var hash []byte
	generated := ""
	if accountNamed(a, telemetryd.AdminUsername) == nil {
		password := adminPassword
		if password == "" {
			generated = randomString(24) // 32 characters
			password = generated
		}
		if hash, err = s.hashPassword(ctx, password); err != nil {
			return "", err
		}
	}
	s.dummyHash() // now, so the first login naming an unknown user is not the slow one

	var created []string
	createdAdmin := false
	err = s.store.UpdateAccess(ctx, func(a *store.Access) error {
		created, createdAdmin = nil, false
		for _, r := range builtinRoles() {
			if roleNamed(a, r.Name) == nil {
				a.Roles = append(a.Roles, r)
				created = append(created, r.Name)
			}
		}
		if accountNamed(a, telemetryd.AdminUsername) != nil {
			return nil
		}
		if hash == nil {
			return errAdminVanished
		}
		a.Accounts = append(a.Accounts, &telemetryd.Account{
			ID:           uuid.NewString(),
			Username:     telemetryd.AdminUsername,
			PasswordHash: string(hash),
			Roles:        []string{telemetryd.RoleSuperAdmin},
			CreatedAt:    telemetryd.Microseconds(s.now()),
		})
		createdAdmin = true
		return nil
	})
	s.cache.invalidate()
	if errors.Is(err, errAdminVanished) {
		// Accounts are never deleted; only tampering gets here.
		return "", errors.New("bootstrap: the admin account disappeared while starting; start again")
	}
	if err != nil {
		return "", fmt.Errorf("creating built-in roles and admin: %w", err)
	}
	for _, name := range created {
		s.audit(ctx, "role.create", "system", name)
	}
	if !createdAdmin {
		return "", nil
	}
	s.audit(ctx, "account.create", "system", telemetryd.AdminUsername)
	return generated, nil
}

var errAdminVanished = errors.New("admin vanished")

func builtinRoles() []*telemetryd.Role {
	return []*telemetryd.Role{
		{Name: telemetryd.RoleSuperAdmin, Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}},
		{Name: telemetryd.RoleTelemetryReader, Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}},
	}
}

func isBuiltinRole(name string) bool {
	return name == telemetryd.RoleSuperAdmin || name == telemetryd.RoleTelemetryReader
}

// loadSecret returns the configured secret, or the one kept in the store,
// generating it on the first start of the deployment.
func (s *Service) loadSecret(ctx context.Context, configured string) ([]byte, error) {
	if configured != "" {
		if len(configured) < MinSecretLength {
			return nil, telemetryd.Errorf(telemetryd.EINVALID, "jwt secret must be at least %d bytes", MinSecretLength)
		}
		return []byte(configured), nil
	}
	stored, err := s.store.SetSettingIfAbsent(ctx, settingJWTSecret, base64.StdEncoding.EncodeToString(randomBytes(32)))
	if err != nil {
		return nil, fmt.Errorf("reading jwt secret: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(stored)
	if err != nil || len(key) < MinSecretLength {
		return nil, fmt.Errorf("the stored jwt secret (setting %s) is not base64 of at least %d bytes", settingJWTSecret, MinSecretLength)
	}
	return key, nil
}
