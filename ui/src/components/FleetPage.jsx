import * as api from '../api.js';
import { daysAgo } from '../format.js';
import { Link, navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { Time } from './Time.jsx';

// The server bounds one page at 10,000; the console lists up to this many.
const LIMIT = 1000;
const DAY = 24 * 60 * 60 * 1000;

/** The deployments this server received snapshots from (serve --receive). */
export function FleetPage({ query }) {
  useTitle('Fleet');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Fleet query={query} />
    </NeedsPermission>
  );
}

function Fleet({ query }) {
  const stale = Number.parseInt(query.get('stale') ?? '', 10);
  const fleet = useAsync(() => api.deployments({ limit: LIMIT }), []);
  const apply = (e) => {
    e.preventDefault();
    const days = new FormData(e.currentTarget).get('stale');
    navigate(withQuery('/fleet', days ? { stale: days } : {}));
  };
  const all = fleet.value?.nodes ?? [];
  const shown = stale > 0 ? all.filter((d) => Date.parse(d.lastSeen) < Date.now() - stale * DAY) : all;
  return (
    <section>
      <h1>Fleet</h1>
      <form class="filters" onSubmit={apply} aria-label="Which deployments" key={query.toString()}>
        <label>
          Not seen in (days)
          <input type="number" name="stale" min="1" defaultValue={stale > 0 ? stale : ''} placeholder="any" />
        </label>
        <button type="submit">Show</button>
      </form>
      {fleet.loading && <Loading what="deployments" />}
      {fleet.error && <ErrorNotice error={fleet.error} retry={fleet.reload} />}
      {fleet.value && (
        <>
          <p role="status">
            {stale > 0
              ? `${shown.length} of ${fleet.value.count} deployments not seen in ${stale} days`
              : `${fleet.value.count} deployments report to this server`}
          </p>
          {fleet.value.count > all.length && <p class="hint">Only the {all.length} deployments seen most recently are listed.</p>}
          {all.length === 0 ? (
            <p>No deployment has sent a snapshot here. Start the server with --receive and point deployments' --telemetry-endpoint at /v1/snapshots.</p>
          ) : (
            <>
              <Versions deployments={all} />
              <VersionsOverTime fleet={all} />
              <DeploymentTable deployments={shown} />
            </>
          )}
        </>
      )}
    </section>
  );
}

/** How many deployments run each version, by their newest snapshot. */
function Versions({ deployments }) {
  const counts = new Map();
  for (const d of deployments) counts.set(d.latestVersion, (counts.get(d.latestVersion) ?? 0) + 1);
  const rows = [...counts].sort((a, b) => b[1] - a[1]);
  const most = rows[0][1];
  return (
    <figure class="versions">
      <figcaption>Versions in use (each deployment's newest snapshot)</figcaption>
      <svg role="img" aria-label="Deployments by version" width="400" height={rows.length * 24} viewBox={`0 0 400 ${rows.length * 24}`}>
        {rows.map(([version, n], i) => (
          <g key={version} transform={`translate(0 ${i * 24})`}>
            <text x="0" y="16" font-size="12">
              {version}
            </text>
            <rect x="90" y="4" height="16" width={Math.max(2, (n / most) * 260)} fill="currentColor" opacity="0.6" />
            <text x={96 + (n / most) * 260} y="16" font-size="12">
              {n}
            </text>
          </g>
        ))}
      </svg>
      <ul class="sr-only">
        {rows.map(([version, n]) => (
          <li key={version}>{`${version}: ${n} ${n === 1 ? 'deployment' : 'deployments'}`}</li>
        ))}
      </ul>
    </figure>
  );
}

// The days the version chart covers, and the snapshots it reads at most.
const HISTORY_DAYS = 30;
const HISTORY_PAGES = 3;

async function loadHistory() {
  const nodes = [];
  for (let page = 0; page < HISTORY_PAGES; page++) {
    const res = await api.listSnapshots({ startDate: daysAgo(HISTORY_DAYS - 1), remoteSendStatus: [] }, { limit: LIMIT, offset: page * LIMIT });
    nodes.push(...res.nodes);
    if (nodes.length >= res.count) return { nodes, truncated: false };
  }
  return { nodes, truncated: true };
}

/** Per day of the last HISTORY_DAYS, how many deployments of the fleet reported each version. */
function VersionsOverTime({ fleet }) {
  const history = useAsync(loadHistory, []);
  if (history.loading) return <Loading what="snapshots of the last 30 days" />;
  if (history.error) return <ErrorNotice error={history.error} retry={history.reload} />;
  const members = new Set(fleet.map((d) => d.deploymentId));
  const byDay = new Map(); // day → version → count
  const versions = new Set();
  for (const n of history.value.nodes) {
    if (!members.has(n.deploymentId)) continue; // the server's own
    const day = n.createdAt.slice(0, 10);
    if (!byDay.has(day)) byDay.set(day, new Map());
    byDay.get(day).set(n.version, (byDay.get(day).get(n.version) ?? 0) + 1);
    versions.add(n.version);
  }
  if (!byDay.size) return null;
  // Every day of the range, so a day without reports shows as a gap.
  const days = Array.from({ length: HISTORY_DAYS }, (_, i) => daysAgo(HISTORY_DAYS - 1 - i));
  for (const day of days) if (!byDay.has(day)) byDay.set(day, new Map());
  const order = [...versions].sort();
  const most = Math.max(1, ...days.map((d) => [...byDay.get(d).values()].reduce((a, b) => a + b, 0)));
  const width = 12;
  const height = 120;
  return (
    <figure class="versions">
      <figcaption>Versions reported per day, last {HISTORY_DAYS} days</figcaption>
      {history.value.truncated && <p class="hint">Only the newest {LIMIT * HISTORY_PAGES} snapshots are counted.</p>}
      <svg role="img" aria-label="Versions reported per day" width={days.length * width + 40} height={height + 20} viewBox={`0 0 ${days.length * width + 40} ${height + 20}`}>
        {days.map((day, i) => {
          let y = height;
          return (
            <g key={day}>
              <title>{`${day}: ${order.filter((v) => byDay.get(day).has(v)).map((v) => `${v} ×${byDay.get(day).get(v)}`).join(', ')}`}</title>
              {order.map((v, k) => {
                const n = byDay.get(day).get(v) ?? 0;
                const h = (n / most) * height;
                y -= h;
                return n ? <rect key={v} x={i * width} y={y} width={width - 2} height={h} fill="currentColor" opacity={0.3 + (0.6 * (k + 1)) / order.length} /> : null;
              })}
            </g>
          );
        })}
        <text x="0" y={height + 16} font-size="11">
          {days[0]}
        </text>
        <text x={days.length * width} y={height + 16} font-size="11" text-anchor="end">
          {days[days.length - 1]}
        </text>
      </svg>
      <table class="sr-only">
        <caption>Versions reported per day</caption>
        <tbody>
          {days.filter((day) => byDay.get(day).size).map((day) => (
            <tr key={day}>
              <th scope="row">{day}</th>
              <td>{order.filter((v) => byDay.get(day).has(v)).map((v) => `${v}: ${byDay.get(day).get(v)}`).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="legend">{order.map((v, k) => `${v} (shade ${k + 1} of ${order.length})`).join(' · ')}</p>
    </figure>
  );
}

function DeploymentTable({ deployments }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Deployments, last seen first</caption>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Last seen (UTC)</th>
            <th scope="col">Version</th>
            <th scope="col">Snapshots</th>
            <th scope="col">Missing days</th>
            <th scope="col">Chain</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr key={d.deploymentId}>
              <td>
                <Link href={`/fleet/${encodeURIComponent(d.deploymentId)}`}>{d.deploymentId}</Link>
              </td>
              <td>
                <Time iso={d.lastSeen} />
              </td>
              <td>{d.latestVersion}</td>
              <td>{d.snapshotCount}</td>
              <td>{d.missingDays}</td>
              <td>{d.chainIntact ? 'intact' : 'broken'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One deployment's snapshots day by day, gaps included, each linking to its snapshot. */
export function DeploymentPage({ id }) {
  useTitle(`Deployment ${id}`);
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Timeline id={id} />
    </NeedsPermission>
  );
}

function Timeline({ id }) {
  const snaps = useAsync(() => api.listSnapshots({ deploymentId: id, remoteSendStatus: [] }, { limit: LIMIT, offset: 0 }), [id]);
  const days = [];
  const nodes = snaps.value?.nodes ?? [];
  for (let i = 0; i < nodes.length; i++) {
    days.push({ snapshot: nodes[i] });
    const next = nodes[i + 1]; // older
    if (next) {
      const gap = Math.round((Date.parse(nodes[i].createdAt.slice(0, 10)) - Date.parse(next.createdAt.slice(0, 10))) / DAY) - 1;
      if (gap > 0) days.push({ gap });
    }
  }
  return (
    <section>
      <h1>Deployment {id}</h1>
      <p>
        <Link href="/fleet">All deployments</Link> · <Link href={withQuery('/snapshots', { deployment_id: id })}>Its snapshots in the snapshot list</Link>
      </p>
      {snaps.loading && <Loading what="snapshots" />}
      {snaps.error && <ErrorNotice error={snaps.error} retry={snaps.reload} />}
      {snaps.value && (
        <ol class="timeline" aria-label="Snapshots, newest first">
          {days.map((d) =>
            d.snapshot ? (
              <li key={d.snapshot.id}>
                <Link href={`/snapshots/${encodeURIComponent(d.snapshot.id)}`} aria-label={`Snapshot of ${d.snapshot.createdAt}`}>
                  <Time iso={d.snapshot.createdAt} />
                </Link>{' '}
                version {d.snapshot.version}
              </li>
            ) : (
              <li key={`gap-${days.indexOf(d)}`} class="gap">
                {d.gap === 1 ? 'no snapshot for 1 day' : `no snapshot for ${d.gap} days`}
              </li>
            ),
          )}
        </ol>
      )}
    </section>
  );
}
