package workflows

import (
	"context"
	"slices"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// AccessReader reads accounts and roles; store.Store satisfies it.
type AccessReader interface {
	Access(ctx context.Context) (*store.Access, error)
}

// AccountsSection is the "accounts" section: counts only, no names.
type AccountsSection struct {
	Access AccessReader
}

// Name returns "accounts".
func (*AccountsSection) Name() string { return "accounts" }

type accountsData struct {
	Total            int `json:"total"`
	Disabled         int `json:"disabled"`
	Roles            int `json:"roles"`
	CustomRoles      int `json:"custom_roles"`
	SuperAdmins      int `json:"super_admins"`
	TelemetryReaders int `json:"telemetry_readers"`
}

// Collect counts accounts and roles.
func (s *AccountsSection) Collect(ctx context.Context, _ time.Time) (any, error) {
	a, err := s.Access.Access(ctx)
	if err != nil {
		return nil, err
	}
	d := accountsData{Total: len(a.Accounts), Roles: len(a.Roles)}
	for _, acc := range a.Accounts {
		if acc.Disabled {
			d.Disabled++
		}
		if slices.Contains(acc.Roles, telemetryd.RoleSuperAdmin) {
			d.SuperAdmins++
		}
		if slices.Contains(acc.Roles, telemetryd.RoleTelemetryReader) {
			d.TelemetryReaders++
		}
	}
	for _, r := range a.Roles {
		if r.Name != telemetryd.RoleSuperAdmin && r.Name != telemetryd.RoleTelemetryReader {
			d.CustomRoles++
		}
	}
	return d, nil
}
