import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { filterFromQuery, queryOfFilter } from '../filters.js';
import { navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { Pager } from './Pager.jsx';
import { SnapshotFilters } from './SnapshotFilters.jsx';
import { SnapshotTable } from './SnapshotTable.jsx';

const PAGE = 50;

/** The snapshots matching the filters in the URL, a page at a time; pick two to compare. */
export function SnapshotsPage({ query }) {
  useTitle('Snapshots');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Snapshots query={query} />
    </NeedsPermission>
  );
}

function Snapshots({ query }) {
  const filter = filterFromQuery(query);
  const offset = Math.max(0, Number.parseInt(query.get('offset') ?? '0', 10) || 0);
  const key = query.toString();
  const page = useAsync(() => api.listSnapshots(filter, { limit: PAGE, offset }), [key]);
  const [selected, setSelected] = useState([]);

  const go = (f, o = 0) => navigate(withQuery('/snapshots', { ...queryOfFilter(f), offset: o || '' }));
  const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id].slice(-2)));

  return (
    <section>
      <h1>Snapshots</h1>
      <SnapshotFilters key={key} filter={filter} onApply={(f) => go(f)} />
      {page.loading && <Loading what="snapshots" />}
      {page.error && <ErrorNotice error={page.error} retry={page.reload} />}
      {page.value && (
        <>
          <div class="toolbar">
            <p role="status">
              {page.value.count === 0
                ? 'No snapshot matches these filters.'
                : `${page.value.count} snapshot${page.value.count === 1 ? '' : 's'} match; showing ${offset + 1}–${offset + page.value.nodes.length}.`}
            </p>
            <button
              type="button"
              disabled={selected.length !== 2}
              title={selected.length !== 2 ? 'Tick two snapshots to compare them' : undefined}
              onClick={() => navigate(withQuery('/compare', { a: selected[0], b: selected[1] }))}
            >
              Compare selected ({selected.length}/2)
            </button>
          </div>
          {page.value.nodes.length > 0 && <SnapshotTable snapshots={page.value.nodes} selected={selected} onToggle={toggle} />}
          <Pager offset={offset} pageSize={PAGE} count={page.value.count} onPage={(o) => go(filter, o)} />
        </>
      )}
    </section>
  );
}
