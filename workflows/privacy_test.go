package workflows_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/workflows"
)

// ipv4 matches a dotted IPv4 address anywhere in a payload.
var ipv4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)

func TestPayloadNeverCarriesPersonalOrSecretValues(t *testing.T) {
	for _, variant := range statsVariants {
		t.Run(variant.name, func(t *testing.T) { checkPayloadPrivacy(t, variant.stats) })
	}
}

// checkPayloadPrivacy plants personal and secret values where the
// sections could read them and fails when any reaches the payload.
func checkPayloadPrivacy(t *testing.T, stats func(*embedded.Store) []workflows.Section) {
	ctx := context.Background()
	planted := map[string]string{
		"username":       "planted-username-q7xk",
		"role name":      "planted-role-9q2w",
		"token name":     "planted-token-name-x1v8",
		"token hash":     hashOf("planted-token-value"),
		"password hash":  "planted-password-hash-3jd",
		"env hostname":   "planted-hostname-h5tz",
		"env user":       "planted-env-user-m2pa",
		"IP address":     "203.0.113.77",
		"JWT secret":     "planted-jwt-secret-0123456789abcdefghijkl",
		"Neo4j password": "planted-neo4j-password-p4ss",
		"CI URL":         "planted-ci-host.example",
		"counter name":   "planted-counter-name",
	}
	// The real environment, so a section reading os.Getenv finds them too.
	t.Setenv("HOSTNAME", planted["env hostname"])
	t.Setenv("USER", planted["env user"])
	t.Setenv("SSH_CLIENT", planted["IP address"]+" 51234 22")
	t.Setenv("TELEMETRYD_JWT_SECRET", planted["JWT secret"])
	t.Setenv("TELEMETRYD_NEO4J_PASSWORD", planted["Neo4j password"])
	// CI systems checked before Jenkins are cleared, so the test sees
	// Jenkins when it runs under one of them.
	for _, v := range []string{"GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "BUILDKITE"} {
		t.Setenv(v, "")
	}
	t.Setenv("JENKINS_URL", "https://"+planted["CI URL"]+":8080/")
	// Shorter names could turn up by chance inside a checksum.
	if host, err := os.Hostname(); err == nil && len(host) >= 8 {
		planted["machine hostname"] = host
	}

	st := openStore(t)
	clock := newClock(t, day1)
	accountID := uuid.NewString()
	require.NoError(t, st.UpdateAccess(ctx, func(a *store.Access) error {
		a.Roles = append(a.Roles, &telemetryd.Role{Name: planted["role name"], Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}})
		a.Accounts = append(a.Accounts, &telemetryd.Account{
			ID: accountID, Username: planted["username"], PasswordHash: planted["password hash"],
			Roles: []string{planted["role name"]}, CreatedAt: day1.Add(-48 * time.Hour),
		})
		return nil
	}))
	require.NoError(t, st.CreateToken(ctx, &telemetryd.Token{
		ID: uuid.NewString(), Kind: telemetryd.APIToken, Name: planted["token name"], AccountID: accountID,
		Hash: planted["token hash"], CreatedAt: day1.Add(-24 * time.Hour),
	}))
	require.NoError(t, st.AddActivity(ctx, telemetryd.Day(day1.Add(-24*time.Hour)), map[string]int64{"logins": 2, planted["counter name"]: 1}))

	recv := newReceiver(t, answer(http.StatusOK))
	r := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
	r.Sections = builtinSections(st, clock, nil, stats) // nil: the real os.Getenv
	preview, err := r.Preview(ctx)
	require.NoError(t, err)
	snap, err := r.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, telemetryd.SendSent, snap.RemoteSendStatus)
	stored, err := snap.MarshalJSON()
	require.NoError(t, err)

	// The planted values did reach the collectors' inputs: the payload
	// counts the account and its token, and sees the CI.
	assert.Contains(t, string(snap.Data), `"total":1`)
	assert.Contains(t, string(snap.Data), `"token_kinds_in_use":["api"]`)
	assert.Contains(t, string(snap.Data), `"ci":"jenkins"`)
	assert.Contains(t, string(snap.Data), `"logins":2`)

	for name, payload := range map[string][]byte{"preview": preview, "stored record": stored, "sent body": recv.received()[0]} {
		for what, value := range planted {
			assert.NotContains(t, strings.ToLower(string(payload)), strings.ToLower(value), "the %s carries the planted %s", name, what)
		}
		assert.Empty(t, ipv4.FindAllString(string(payload), -1), "the %s carries an IP address", name)
	}
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
