package server

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// FuzzSnapshotFilter holds the REST parameters to their promises on any
// query string: no panic; a refusal is BAD_USER_INPUT with a short message
// naming a parameter; an accepted query has exactly one plain value for
// each number it set.
func FuzzSnapshotFilter(f *testing.F) {
	for _, seed := range []string{
		"", "limit=50&offset=100", "limit=1&limit=2", "limit=%2B5", "limit=05", "offset=-1",
		"start_date=2026-02-01&end_date=2026-02-16", "start_date=2026-02-16t08:00:00z",
		"status=sent,failed&deployment_id=5d1c", "status=SENT", "status=sent,,failed", "limit=999999999999",
	} {
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, raw string, paged bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		filter, err := snapshotFilter(q, paged)
		if err != nil {
			require.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
			msg := telemetryd.ErrorMessage(err)
			assert.Less(t, len(msg), 512)
			named := false
			for _, p := range params {
				named = named || strings.HasPrefix(msg, p)
			}
			assert.True(t, named, "%q names no parameter", msg)
			return
		}
		for _, s := range filter.Statuses {
			assert.True(t, s.Valid())
		}
		if v, ok := q[paramLimit]; ok {
			assert.Equal(t, v[0], strconv.Itoa(filter.Limit), "limit is written one plain way")
		}
		if v, ok := q[paramOffset]; ok {
			assert.Equal(t, v[0], strconv.Itoa(filter.Offset), "offset is written one plain way")
		}
		assert.GreaterOrEqual(t, filter.Offset, 0)
	})
}
