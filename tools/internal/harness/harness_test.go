package harness

import "testing"

// The tools empty the database they use: only one on this machine may do.
func TestLoopback(t *testing.T) {
	for uri, want := range map[string]bool{
		"bolt://127.0.0.1:7687":       true,
		"neo4j://localhost:7687":      true,
		"bolt://[::1]:7687":           true,
		"bolt://127.1.2.3":            true,
		"bolt://10.0.0.5:7687":        false,
		"neo4j+s://db.example.com":    false,
		"bolt://localhost.evil.com:1": false,
		"://not a uri":                false,
	} {
		if got := Loopback(uri); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", uri, got, want)
		}
	}
}
