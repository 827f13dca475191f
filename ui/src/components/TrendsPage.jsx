import * as api from '../api.js';
import { numericPaths, valueAt } from '../datapaths.js';
import { filterFromQuery, queryOfFilter } from '../filters.js';
import { daysAgo } from '../format.js';
import { navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { TrendChart } from './TrendChart.jsx';

// Enough for about three years of daily snapshots; the server bounds one request at 1,000.
const PAGE = 1000;
const MAX_PAGES = 3;

/** A chart of one numeric path of `data` over a date range. */
export function TrendsPage({ query }) {
  useTitle('Trends');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Trends query={query} />
    </NeedsPermission>
  );
}

async function loadSeries(filter) {
  const nodes = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await api.listSnapshots(filter, { limit: PAGE, offset: page * PAGE, withData: true });
    nodes.push(...res.nodes);
    if (nodes.length >= res.count) return { nodes, truncated: false };
  }
  return { nodes, truncated: true };
}

function Trends({ query }) {
  const filter = { ...filterFromQuery(query), remoteSendStatus: [] };
  if (!filter.startDate && !filter.endDate) filter.startDate = daysAgo(90);
  const path = query.get('path') || 'store.nodes';
  const key = `${filter.startDate}|${filter.endDate}|${filter.deploymentId}`;
  const series = useAsync(() => loadSeries(filter), [key]);

  const apply = (e) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = { ...filter, startDate: f.get('start_date'), endDate: f.get('end_date'), deploymentId: f.get('deployment_id').trim() };
    navigate(withQuery('/trends', { ...queryOfFilter(next), path: f.get('path') }));
  };

  const nodes = series.value?.nodes ?? [];
  const paths = nodes.length ? numericPaths(nodes[0].data) : [];
  if (paths.length && !paths.includes(path)) paths.unshift(path);
  const points = nodes
    .map((n) => ({ t: Date.parse(n.createdAt) / 1000, iso: n.createdAt, v: valueAt(n.data, path) }))
    .filter((p) => typeof p.v === 'number')
    .reverse();

  return (
    <section>
      <h1>Trends</h1>
      <form class="filters" onSubmit={apply} aria-label="What to chart" key={query.toString()}>
        <label class="grow">
          Value
          <select name="path">
            {(paths.length ? paths : [path]).map((p) => (
              <option key={p} value={p} selected={p === path}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          From (UTC)
          <input type="date" name="start_date" defaultValue={filter.startDate} />
        </label>
        <label>
          To (UTC, included)
          <input type="date" name="end_date" defaultValue={filter.endDate} />
        </label>
        <label>
          Deployment id
          <input name="deployment_id" defaultValue={filter.deploymentId} placeholder="any" spellcheck={false} autocomplete="off" />
        </label>
        <button type="submit">Show</button>
      </form>
      {series.loading && <Loading what="snapshots" />}
      {series.error && <ErrorNotice error={series.error} retry={series.reload} />}
      {series.value && (
        <>
          {!filter.deploymentId && new Set(nodes.map((n) => n.deploymentId)).size > 1 && (
            <p class="hint">
              These snapshots come from {new Set(nodes.map((n) => n.deploymentId)).size} deployments; enter a deployment id to chart one of them.
            </p>
          )}
          {series.value.truncated && <p class="hint">Only the newest {PAGE * MAX_PAGES} snapshots are charted; narrow the dates to see older ones.</p>}
          {points.length === 0 ? (
            <p role="status">No snapshot in this range has a number at {path}.</p>
          ) : (
            <TrendChart points={points} label={path} />
          )}
        </>
      )}
    </section>
  );
}
