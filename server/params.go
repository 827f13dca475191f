package server

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// The REST routes' query parameters.
const (
	paramStartDate    = "start_date"
	paramEndDate      = "end_date"
	paramDeploymentID = "deployment_id"
	paramStatus       = "status"
	paramLimit        = "limit"
	paramOffset       = "offset"
)

// params are every parameter the listing takes; the export takes all
// but limit and offset.
var params = []string{paramStartDate, paramEndDate, paramDeploymentID, paramStatus, paramLimit, paramOffset}

// snapshotFilter reads the filter parameters of q into a filter, and limit
// and offset too when paged (the listing); the export refuses them, as it
// returns every match. Each parameter may be given once. Errors are
// EINVALID naming the parameter. Limit and offset are only read here;
// their range is the service's to check.
func snapshotFilter(q url.Values, paged bool) (telemetryd.Filter, error) {
	f := telemetryd.Filter{Limit: telemetryd.DefaultLimit}
	for _, name := range params {
		if n := len(q[name]); n > 1 {
			return f, telemetryd.Errorf(telemetryd.EINVALID, "%s is given %d times; give it at most once", name, n)
		}
	}
	var err error
	f.Start, f.End, err = telemetryd.ParseRange(q.Get(paramStartDate), q.Get(paramEndDate))
	var re *telemetryd.RangeError
	if errors.As(err, &re) {
		return f, telemetryd.Errorf(telemetryd.EINVALID, "%s", re.Named(paramStartDate, paramEndDate))
	}
	if err != nil {
		return f, err
	}
	f.DeploymentID = q.Get(paramDeploymentID)
	if v := q.Get(paramStatus); v != "" {
		for _, s := range strings.Split(v, ",") {
			status := telemetryd.SendStatus(s)
			if !status.Valid() {
				return f, telemetryd.Errorf(telemetryd.EINVALID, "%s: %s is not one of pending, sent, skipped, failed (comma-separated)", paramStatus, telemetryd.Echo(s))
			}
			f.Statuses = append(f.Statuses, status)
		}
	}
	for _, p := range []struct {
		name string
		to   *int
	}{{paramLimit, &f.Limit}, {paramOffset, &f.Offset}} {
		v, ok := q[p.name]
		switch {
		case !ok:
		case !paged:
			return f, telemetryd.Errorf(telemetryd.EINVALID, "%s is not taken here: the export returns every match", p.name)
		default:
			if *p.to, err = plainInt(v[0]); err != nil {
				return f, telemetryd.Errorf(telemetryd.EINVALID, "%s: %s is not a plain decimal integer", p.name, telemetryd.Echo(v[0]))
			}
		}
	}
	return f, nil
}

// plainInt reads a non-negative decimal integer written the one plain
// way: digits only, no sign, no leading zero, at most nine digits (more
// is past every limit anyway). strconv.Atoi alone also takes "+5" and
// "05".
func plainInt(s string) (int, error) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}
