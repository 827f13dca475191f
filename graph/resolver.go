// Package graph is telemetryd's GraphQL API: the schema's resolvers, thin
// calls into the services, and the gqlgen code generated from
// schema.graphqls.
package graph

import (
	"errors"
	"strings"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
	"github.com/telemetryd/telemetryd/telemetry"
)

// Resolver holds the services every resolver calls; all are required.
type Resolver struct {
	// Telemetry reads, previews, runs and sends snapshots.
	Telemetry *telemetry.Service
	// Fleet lists the deployments a receiver heard from.
	Fleet *fleet.Service
	// Auth signs callers in and manages accounts, roles and tokens.
	Auth *auth.Service
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func text(d *DateTime) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

// snapshotFilter reads the filter arguments of telemetrySnapshots and
// telemetryIntegrity, naming the argument that is wrong.
func snapshotFilter(startDate, endDate *DateTime, deploymentID *string, statuses []telemetryd.SendStatus) (telemetryd.Filter, error) {
	var f telemetryd.Filter
	var err error
	f.Start, f.End, err = telemetryd.ParseRange(text(startDate), text(endDate))
	var re *telemetryd.RangeError
	if errors.As(err, &re) {
		return f, telemetryd.Errorf(telemetryd.EINVALID, "%s", re.Named("startDate", "endDate"))
	}
	if err != nil {
		return f, err
	}
	if deploymentID != nil {
		f.DeploymentID = *deploymentID
	}
	f.Statuses = statuses
	return f, nil
}

// orDefault reads an optional Int argument; an explicit null means the
// schema's default.
func orDefault(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

func authPayload(t *auth.Tokens) *AuthPayload {
	return &AuthPayload{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: *newDateTime(t.ExpiresAt)}
}

// SchemaCounts returns how many types the schema serves (its own, not the
// introspection or built-in scalar types) and how many fields they have.
func SchemaCounts() (types, fields int) {
	for name, def := range parsedSchema.Types {
		if def.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		types++
		fields += len(def.Fields)
	}
	return types, fields
}
