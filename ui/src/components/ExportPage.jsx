import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { filterFromQuery, queryOfFilter } from '../filters.js';
import { bytes } from '../format.js';
import { navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { SnapshotFilters } from './SnapshotFilters.jsx';

/** Downloads the filtered snapshots as an export file, the one `telemetryd snapshots import` reads. */
export function ExportPage({ query }) {
  useTitle('Export');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Export query={query} />
    </NeedsPermission>
  );
}

function Export({ query }) {
  const filter = filterFromQuery(query);
  const [state, setState] = useState({ busy: false, done: null, error: null });
  const run = async (f) => {
    navigate(withQuery('/export', queryOfFilter(f)), { replace: true });
    setState({ busy: true, done: null, error: null });
    try {
      setState({ busy: false, done: await api.downloadExport(f), error: null });
    } catch (error) {
      setState({ busy: false, done: null, error });
    }
  };
  return (
    <section>
      <h1>Export</h1>
      <p>
        Downloads every snapshot matching the filters as one JSON array, newest first: the file{' '}
        <code>telemetryd snapshots import --file</code> reads and <code>telemetryctl telemetry verify --file</code> checks. Leave the filters empty
        for everything.
      </p>
      <SnapshotFilters key={query.toString()} filter={filter} onApply={run} submitLabel={state.busy ? 'Exporting…' : 'Download export'} />
      {state.busy && (
        <p role="status" class="loading">
          Exporting…
        </p>
      )}
      {state.done && (
        <p role="status" class="success">
          Downloaded {state.done.name} ({bytes(state.done.bytes)}).
        </p>
      )}
      {state.error && <ErrorNotice error={state.error} />}
    </section>
  );
}
