package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/graph"
)

// publicFields need no caller: they are how a caller signs in.
var publicFields = []string{"Mutation.login", "Mutation.refreshToken", "Mutation.logout"}

// probes call each Query and Mutation field with arguments that do no harm
// when allowed: unknown names and ids, empty roles.
var probes = map[string]string{
	"Query.telemetrySnapshots":       `{ telemetrySnapshots(limit: 1) { count } }`,
	"Query.telemetrySnapshot":        `{ telemetrySnapshot(id: "no-such-snapshot") { id } }`,
	"Query.telemetryPreview":         `{ telemetryPreview }`,
	"Query.telemetryStatus":          `{ telemetryStatus { remoteEnabled } }`,
	"Query.telemetryIntegrity":       `{ telemetryIntegrity { checked } }`,
	"Query.deployments":              `{ deployments(limit: 1) { count } }`,
	"Query.me":                       `{ me { username } }`,
	"Query.accounts":                 `{ accounts { username } }`,
	"Query.roles":                    `{ roles { name } }`,
	"Query.apiTokens":                `{ apiTokens { id } }`,
	"Mutation.createAccount":         `mutation { createAccount(username: "probe-account", password: "a long enough password", roles: []) { id } }`,
	"Mutation.setAccountDisabled":    `mutation { setAccountDisabled(username: "no-such-account", disabled: true) { id } }`,
	"Mutation.assignRole":            `mutation { assignRole(username: "no-such-account", role: "empty") { id } }`,
	"Mutation.revokeRole":            `mutation { revokeRole(username: "no-such-account", role: "empty") { id } }`,
	"Mutation.createRole":            `mutation { createRole(name: "probe-role", permissions: []) { name } }`,
	"Mutation.setRolePermissions":    `mutation { setRolePermissions(name: "empty", permissions: []) { name } }`,
	"Mutation.deleteRole":            `mutation { deleteRole(name: "no-such-role") }`,
	"Mutation.createApiToken":        `mutation { createApiToken(name: "probe") { id } }`,
	"Mutation.revokeApiToken":        `mutation { revokeApiToken(id: "no-such-token") }`,
	"Mutation.runTelemetryWorkflow":  `mutation { runTelemetryWorkflow { id } }`,
	"Mutation.sendTelemetrySnapshot": `mutation { sendTelemetrySnapshot(id: "no-such-snapshot") { id } }`,
}

// TestSchemaDirectivesMatchWhatTheServicesRequire holds the schema's
// permission directives, which only document, to what the services
// enforce: for every field, a caller holding what the directive names is
// let through, one holding every other permission is refused with
// FORBIDDEN, and an anonymous caller with UNAUTHENTICATED. A field with no
// directive must be one of the sign-in mutations.
func TestSchemaDirectivesMatchWhatTheServicesRequire(t *testing.T) {
	e := start(t)
	nonSuper := []telemetryd.Permission{telemetryd.ReadTelemetry, telemetryd.ManageAccounts, telemetryd.ManagePermissions}
	e.mustGraphQL(e.admin, `mutation { createRole(name: "empty", permissions: []) { name } }`, nil, nil)
	holding := map[string]string{} // token of an account holding exactly these permissions, by key
	tokenFor := func(perms []telemetryd.Permission) string {
		t.Helper()
		if slices.Contains(perms, telemetryd.SuperAdmin) {
			return e.admin
		}
		key := ""
		for _, p := range nonSuper {
			if slices.Contains(perms, p) {
				key += "-" + strings.ToLower(strings.ReplaceAll(string(p), "_", "-"))
			}
		}
		if tok, ok := holding[key]; ok {
			return tok
		}
		name := "holds" + key
		if key == "" {
			name = "holds-nothing"
		}
		var roles []string
		if len(perms) > 0 {
			e.mustGraphQL(e.admin, `mutation($n: String!, $p: [GlobalPermission!]!) { createRole(name: $n, permissions: $p) { name } }`,
				map[string]any{"n": name, "p": perms}, nil)
			roles = []string{name}
		}
		holding[key] = e.account(name, roles...)
		return holding[key]
	}
	allBut := func(except []telemetryd.Permission) []telemetryd.Permission {
		var out []telemetryd.Permission
		for _, p := range nonSuper {
			if !slices.Contains(except, p) {
				out = append(out, p)
			}
		}
		return out
	}

	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var covered []string
	for _, typ := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, field := range typ.Fields {
			if len(field.Name) > 1 && field.Name[:2] == "__" {
				continue
			}
			name := typ.Name + "." + field.Name
			covered = append(covered, name)
			t.Run(name, func(t *testing.T) {
				var required []telemetryd.Permission // any of them
				signedIn := false
				switch {
				case field.Directives.ForName("hasPermission") != nil:
					v := field.Directives.ForName("hasPermission").Arguments.ForName("permission").Value.Raw
					required = []telemetryd.Permission{telemetryd.Permission(v)}
				case field.Directives.ForName("hasAnyPermission") != nil:
					for _, c := range field.Directives.ForName("hasAnyPermission").Arguments.ForName("permissions").Value.Children {
						required = append(required, telemetryd.Permission(c.Value.Raw))
					}
				case field.Directives.ForName("authenticated") != nil:
					signedIn = true
				default:
					assert.Contains(t, publicFields, name, "a field without a permission directive")
					return
				}
				query, ok := probes[name]
				require.True(t, ok, "no probe for %s: add one", name)

				out, res := e.graphql("", query, nil)
				assert.Equal(t, telemetryd.EUNAUTHENTICATED, out.code(), "anonymous: %s", res.body)

				if signedIn {
					out, res = e.graphql(tokenFor(nil), query, nil)
					assert.NotContains(t, []string{telemetryd.EUNAUTHENTICATED, telemetryd.EFORBIDDEN}, out.code(), "any signed-in caller: %s", res.body)
					return
				}
				for _, p := range required {
					out, res = e.graphql(tokenFor([]telemetryd.Permission{p}), query, nil)
					assert.NotContains(t, []string{telemetryd.EUNAUTHENTICATED, telemetryd.EFORBIDDEN}, out.code(), "holding %s: %s", p, res.body)
				}
				out, res = e.graphql(tokenFor(allBut(required)), query, nil)
				assert.Equal(t, telemetryd.EFORBIDDEN, out.code(), "holding every other permission: %s", res.body)
			})
		}
	}
	for name := range probes {
		assert.Contains(t, covered, name, "a probe for a field the schema no longer has")
	}
}
