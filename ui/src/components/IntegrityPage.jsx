import * as api from '../api.js';
import { filterFromQuery, queryOfFilter } from '../filters.js';
import { navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { FileVerifier } from './FileVerifier.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { ProblemList } from './ProblemList.jsx';
import { SnapshotFilters } from './SnapshotFilters.jsx';

/** The server's check of stored checksums and chains, and a check of an export file in this browser. */
export function IntegrityPage({ query }) {
  useTitle('Integrity');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <section>
        <h1>Integrity</h1>
        <h2>Stored snapshots</h2>
        <ServerCheck query={query} />
        <h2>An export file</h2>
        <FileVerifier />
      </section>
    </NeedsPermission>
  );
}

function ServerCheck({ query }) {
  const filter = filterFromQuery(query);
  const ran = query.has('check');
  const key = query.toString();
  const report = useAsync(() => (ran ? api.integrity(filter) : Promise.resolve(null)), [key]);
  const run = (f) => {
    const to = withQuery('/integrity', { ...queryOfFilter({ ...f, remoteSendStatus: [] }), check: '1' });
    if (to === location.pathname + location.search) report.reload();
    else navigate(to);
  };
  return (
    <>
      <p>Recomputes every checksum on the server and follows each deployment's chain, as <code>telemetryd snapshots verify</code> does.</p>
      <SnapshotFilters key={key} filter={filter} fields={['dates', 'deployment']} onApply={run} submitLabel="Check" />
      {ran && report.loading && <Loading what="the check" />}
      {report.error && <ErrorNotice error={report.error} retry={report.reload} />}
      {report.value && <ProblemList checked={report.value.checked} problems={report.value.problems} />}
    </>
  );
}
