package telemetryd

import (
	"slices"
	"time"
)

// Permission is a global permission a role grants.
type Permission string

// The global permissions. SuperAdmin implies every other.
const (
	SuperAdmin        Permission = "SUPER_ADMIN"
	ReadTelemetry     Permission = "READ_TELEMETRY"
	ManageAccounts    Permission = "MANAGE_ACCOUNTS"
	ManagePermissions Permission = "MANAGE_PERMISSIONS"
)

// AllPermissions lists every permission in the schema's order.
var AllPermissions = []Permission{SuperAdmin, ReadTelemetry, ManageAccounts, ManagePermissions}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return slices.Contains(AllPermissions, p) }

// Grants reports whether holding perms allows what p protects.
func Grants(perms []Permission, p Permission) bool {
	return slices.Contains(perms, SuperAdmin) || slices.Contains(perms, p)
}

// Built-in names created at first start.
const (
	RoleSuperAdmin      = "super-admin"
	RoleTelemetryReader = "telemetry-reader"
	AdminUsername       = "admin"
)

// Account is someone who signs in. PasswordHash is never shown.
type Account struct {
	ID           string
	Username     string
	PasswordHash string
	Disabled     bool
	Roles        []string
	CreatedAt    time.Time
	// TokensRevokedAt is when the account was last disabled: the access,
	// refresh and API tokens issued until then stay void after it is
	// enabled again. Zero when it never was disabled.
	TokensRevokedAt time.Time
}

// Accepts reports whether a token issued at issued may act for the
// account: the account is enabled, and the token was issued after it was
// last disabled.
func (a *Account) Accepts(issued time.Time) bool {
	return !a.Disabled && (a.TokensRevokedAt.IsZero() || issued.After(a.TokensRevokedAt))
}

// Role is a named set of permissions.
type Role struct {
	Name        string
	Permissions []Permission
}

// TokenKind tells refresh tokens from API tokens.
type TokenKind string

// The opaque token kinds.
const (
	RefreshToken TokenKind = "refresh"
	APIToken     TokenKind = "api"
)

// Token is an opaque bearer credential, stored only as the SHA-256 hash of
// its value. A zero ExpiresAt never expires; a non-zero RevokedAt ended it.
type Token struct {
	ID         string
	Kind       TokenKind
	Name       string
	AccountID  string
	Hash       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
	// Session groups a refresh token with those it was exchanged for: a
	// login starts a session, each rotation passes it on, and spending a
	// rotated token again ends every token of it. Empty for API tokens.
	Session string
}

// Active reports whether t may be used at now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}
