package main

import (
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/graph"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/workflows"
)

// sections are the built-in parts of each snapshot's data.
func sections(st store.Store, deploymentID string, started time.Time, remote bool, retention time.Duration, getenv func(string) string) []workflows.Section {
	return append(workflows.StoreSections(st, graph.SchemaCounts),
		&workflows.InstanceSection{DeploymentID: deploymentID, Version: telemetryd.Version, Started: started, Getenv: getenv},
		&workflows.AccountsSection{Access: st},
		&workflows.ActivitySection{Activity: st},
		&workflows.FeaturesSection{RemoteSending: remote, Retention: retention, Tokens: st},
		workflows.ProcessSection{},
	)
}
