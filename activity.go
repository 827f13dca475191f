package telemetryd

// The activity counters of a deployment's UTC day, which the telemetry
// reports in its activity_24h section.
const (
	ActivityLogins          = "logins"
	ActivityFailedLogins    = "failed_logins"
	ActivityTelemetryReads  = "telemetry_reads"
	ActivityExports         = "exports"
	ActivityGraphQLRequests = "graphql_requests"
	ActivityRESTRequests    = "rest_requests"
	ActivityServerErrors    = "responses_5xx"
)

// ActivityCounters lists every activity counter, in the order the
// telemetry reports them.
var ActivityCounters = []string{
	ActivityLogins, ActivityFailedLogins, ActivityTelemetryReads, ActivityExports,
	ActivityGraphQLRequests, ActivityRESTRequests, ActivityServerErrors,
}
