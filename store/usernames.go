package store

import (
	"slices"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// UsernameKey is what two usernames share when they name one account:
// usernames are unique regardless of case, so "Admin" and "admin" cannot
// both exist. Backends keep accounts unique by it.
func UsernameKey(username string) string { return strings.ToLower(username) }

// CheckUsernames returns ECONFLICT naming every set of usernames that
// differ only in case, or nil. Backends run it when they open, on stores
// written before usernames were unique regardless of case: which of such
// accounts is the real one is the operator's call, not the store's.
func CheckUsernames(usernames []string) error {
	groups := map[string][]string{}
	for _, u := range usernames {
		groups[UsernameKey(u)] = append(groups[UsernameKey(u)], u)
	}
	var clashes []string
	for _, names := range groups {
		if len(names) < 2 {
			continue
		}
		slices.Sort(names)
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = `"` + n + `"`
		}
		clashes = append(clashes, strings.Join(quoted[:len(quoted)-1], ", ")+" and "+quoted[len(quoted)-1])
	}
	if len(clashes) == 0 {
		return nil
	}
	slices.Sort(clashes)
	return telemetryd.Errorf(telemetryd.ECONFLICT,
		"accounts %s differ only in case, and usernames must now be unique regardless of case: "+
			"delete all but one of each (with the release that created them), then start again", strings.Join(clashes, "; accounts "))
}
