package workflows_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/workflows"
)

const docPath = "../docs/telemetry.md"

// builtinSections returns every built-in section over st, the "store"
// and "schema" ones (which cmd injects) made by stats.
func builtinSections(st *embedded.Store, clock *fakeClock, getenv func(string) string, stats func(*embedded.Store) []workflows.Section) []workflows.Section {
	return append([]workflows.Section{
		&workflows.InstanceSection{DeploymentID: testDeployment, Version: telemetryd.Version, Started: clock.Now().Add(-time.Hour), Getenv: getenv},
		&workflows.AccountsSection{Access: st},
		&workflows.ActivitySection{Activity: st},
		&workflows.FeaturesSection{RemoteSending: true, Retention: 1825 * 24 * time.Hour, Tokens: st},
		workflows.ProcessSection{},
	}, stats(st)...)
}

// statsVariants measure the "store" and "schema" sections two ways: a
// Neo4j-like fake filled in completely, so every field has a value, and
// the embedded store's own Stats, so a real store's labels are covered.
var statsVariants = []struct {
	name  string
	stats func(*embedded.Store) []workflows.Section
}{
	{name: "neo4j-like stats", stats: fakeStats},
	{name: "embedded store stats", stats: embeddedStats},
}

func fakeStats(*embedded.Store) []workflows.Section {
	return workflows.StoreSections(neo4jLikeStats{}, func() (int, int) { return 14, 61 })
}

// neo4jLikeStats measures like a Neo4j store with every field filled in.
type neo4jLikeStats struct{}

func (neo4jLikeStats) Backend() string { return "neo4j" }

func (neo4jLikeStats) Stats(context.Context) (*store.Stats, error) {
	return &store.Stats{
		DatabaseType: "neo4j-community", ServerVersion: "5.26.0",
		Nodes: 12, Relationships: 3,
		NodesByLabel:        map[string]int64{"Snapshot": 10, "Account": 2},
		RelationshipsByType: map[string]int64{"HAS_ROLE": 3},
		Constraints:         4, Indexes: 6,
	}, nil
}

// embeddedStats measures the real embedded store, as cmd/telemetryd
// does, with fixed GraphQL counts.
func embeddedStats(st *embedded.Store) []workflows.Section {
	return workflows.StoreSections(st, func() (int, int) { return 14, 61 })
}

// A change to the payload's fields must change docs/telemetry.md and bump
// telemetryd.PayloadFormat; this test holds the first two together and
// the document reminds of the third. A field the document does not call
// "or null" must not be null.
func TestDocumentListsEveryPayloadField(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	require.NoError(t, err)
	recordRows := docTable(t, string(doc), "## The record sent")
	dataRows := docTable(t, string(doc), "## Fields of `data`")
	m := regexp.MustCompile("Current `payload_format`: \\*\\*([^*]+)\\*\\*").FindStringSubmatch(string(doc))
	require.NotNil(t, m, "the document states the current payload_format")
	assert.Equal(t, telemetryd.PayloadFormat, m[1], "the document's payload_format is the build's")

	for _, variant := range statsVariants {
		t.Run(variant.name, func(t *testing.T) {
			st := openStore(t)
			clock := newClock(t, day1)
			r := newRunner(st, offSender(t), clock)
			r.Sections = builtinSections(st, clock, func(k string) string {
				if k == "GITHUB_ACTIONS" {
					return "true"
				}
				return ""
			}, variant.stats)
			body, err := r.Preview(context.Background())
			require.NoError(t, err)

			var record map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(body, &record))
			assert.Equal(t, keys(recordRows), keys(record), "record fields: the document's table and the body sent disagree")

			var data any
			require.NoError(t, json.Unmarshal(record["data"], &data))
			leaves := map[string]any{}
			walk("", data, func(path string) bool { return strings.HasPrefix(dataRows[path], "map") }, leaves)
			assert.Equal(t, keys(dataRows), keys(leaves), "data fields: the document's table and the payload disagree")
			for path, v := range leaves {
				if typ, ok := dataRows[path]; ok && v == nil {
					assert.Contains(t, typ, "or null", "%s is null but documented as %q", path, typ)
				}
			}
		})
	}
}

// walk records the value of every leaf under v by its dotted path: a
// value that is not an object, or an object the document types as a map.
func walk(path string, v any, isMap func(string) bool, leaves map[string]any) {
	obj, ok := v.(map[string]any)
	if !ok || (path != "" && isMap(path)) {
		leaves[path] = v
		return
	}
	for k, child := range obj {
		p := k
		if path != "" {
			p = path + "." + k
		}
		walk(p, child, isMap, leaves)
	}
}

// docTable returns the rows of the first table after heading: its first
// column, a backticked field path, mapped to its second, the type.
func docTable(t *testing.T, doc, heading string) map[string]string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	require.GreaterOrEqual(t, i, 0, "the document has the heading %q", heading)
	rows := map[string]string{}
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(doc[i+len(heading)+2:]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			continue
		}
		field := strings.TrimSpace(cells[0])
		if !strings.HasPrefix(field, "`") {
			continue // the header and its separator
		}
		field = strings.Trim(field, "`")
		require.NotContains(t, rows, field, "the document lists %s twice", field)
		rows[field] = strings.TrimSpace(cells[1])
	}
	require.NotEmpty(t, rows, "the table after %q", heading)
	return rows
}
