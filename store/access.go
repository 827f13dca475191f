package store

import "github.com/telemetryd/telemetryd"

// CheckAccess checks what an UpdateAccess function left, before a backend
// stores it, so the backends cannot drift apart on the rules: EINVALID
// for a nil entry, an account without an id or username, or a role
// without a name; ECONFLICT when two accounts share a username (regardless
// of case, see UsernameKey) or an id, or two roles a name.
func CheckAccess(a *Access) error {
	usernames := make(map[string]string, len(a.Accounts)) // UsernameKey → username
	ids := make(map[string]bool, len(a.Accounts))
	for _, acc := range a.Accounts {
		switch {
		case acc == nil || acc.ID == "" || acc.Username == "":
			return telemetryd.Errorf(telemetryd.EINVALID, "an account needs an id and a username")
		case usernames[UsernameKey(acc.Username)] != "":
			return telemetryd.Errorf(telemetryd.ECONFLICT, "account %s already exists", usernames[UsernameKey(acc.Username)])
		case ids[acc.ID]:
			return telemetryd.Errorf(telemetryd.ECONFLICT, "account id %s is already taken", acc.ID)
		}
		usernames[UsernameKey(acc.Username)] = acc.Username
		ids[acc.ID] = true
	}
	names := make(map[string]bool, len(a.Roles))
	for _, role := range a.Roles {
		switch {
		case role == nil || role.Name == "":
			return telemetryd.Errorf(telemetryd.EINVALID, "a role needs a name")
		case names[role.Name]:
			return telemetryd.Errorf(telemetryd.ECONFLICT, "role %s already exists", role.Name)
		}
		names[role.Name] = true
	}
	return nil
}
