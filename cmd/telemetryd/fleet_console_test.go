package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// TestFleetInTheBrowser: a receiver's console shows the deployments that
// report to it, the stale ones, their versions, and one deployment's days
// with the gap it left, down to the snapshot screens.
func TestFleetInTheBrowser(t *testing.T) {
	chromiumPath(t)
	d := serveInBackground(t, env("DO_NOT_TRACK", "1"), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--admin-password", adminPassword, "--receive")
	send := func(s *telemetryd.Snapshot) {
		t.Helper()
		res, err := http.Post(d.url+"/v1/snapshots", "application/json", bytes.NewReader(s.RemoteBody()))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusCreated, res.StatusCode)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour).Add(2 * time.Hour)
	gappy := storetest.Chain(t, "dep-gappy", today.AddDate(0, 0, -5), 4, 100) // up to two days ago
	for _, s := range []*telemetryd.Snapshot{gappy[0], gappy[1], gappy[3]} {
		send(s)
	}
	send(storetest.NewSnapshot(t, "dep-quiet", today.AddDate(0, 0, -20), nil, 100))

	b := newTab(t, d.url)
	b.open(t, "/fleet")
	b.signIn(t, "admin", adminPassword)

	t.Run("the fleet lists each deployment with its versions", func(t *testing.T) {
		b.open(t, "/fleet")
		b.see(t, "2 deployments report to this server")
		b.see(t, "dep-gappy")
		b.see(t, "dep-quiet")
		b.see(t, "0.1.0: 2 deployments")
		b.see(t, "Versions reported per day")
		b.see(t, gappy[3].CreatedAt.Format(time.DateOnly)+"	0.1.0: 1") // a row of the chart's table
		b.see(t, "broken")
		b.shot(t, "fleet", true)
	})

	t.Run("stale deployments are those not seen for days", func(t *testing.T) {
		b.fill(t, "Not seen in (days)", "7")
		b.click(t, "Show")
		b.at(t, "/fleet?stale=7")
		b.see(t, "1 of 2 deployments not seen in 7 days")
		require.NotContains(t, b.text(t), "dep-gappy")
	})

	t.Run("a deployment's days show the gap and lead to its snapshots", func(t *testing.T) {
		b.open(t, "/fleet")
		b.click(t, "dep-gappy")
		b.at(t, "/fleet/dep-gappy")
		b.see(t, "no snapshot for 1 day")
		b.shot(t, "fleet-deployment", true)
		b.do(t, chromedp.Click(chromedp.Search(`//a[@aria-label=`+xpathString("Snapshot of "+gappy[3].CreatedAt.Format(telemetryd.TimeLayout))+`]`)))
		b.see(t, gappy[3].ID)
		b.see(t, "matches the content")
	})
}
