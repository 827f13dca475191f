// Snapshot filters live in the URL, under the REST route's parameter names
// (start_date, end_date, status, deployment_id), so links can be shared and
// back/forward work.

export const STATUSES = ['PENDING', 'SENT', 'SKIPPED', 'FAILED'];

/** The filter in a URL query, as the API module takes it. */
export function filterFromQuery(query) {
  return {
    startDate: query.get('start_date') ?? '',
    endDate: query.get('end_date') ?? '',
    deploymentId: query.get('deployment_id') ?? '',
    remoteSendStatus: (query.get('status') ?? '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => STATUSES.includes(s)),
  };
}

/** The URL query parameters of a filter. */
export function queryOfFilter(f) {
  return {
    start_date: f.startDate,
    end_date: f.endDate,
    deployment_id: f.deploymentId,
    status: f.remoteSendStatus.map((s) => s.toLowerCase()).join(','),
  };
}
