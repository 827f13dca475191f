import fieldDocs from 'field-docs';
import * as api from '../api.js';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { DataTree } from './DataTree.jsx';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';

// The explanation of a path: its own entry in docs/telemetry.md, else that
// of the nearest documented parent (members of maps and lists).
function explain(path) {
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const doc = fieldDocs[p];
    if (doc) return p === path ? `${doc.type} — ${doc.why}` : '';
  }
  return '';
}

/** Exactly what the next remote send would POST, collected now, with each field explained. */
export function PreviewPage() {
  useTitle('Preview');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <Preview />
    </NeedsPermission>
  );
}

function Preview() {
  const body = useAsync(() => api.preview(), []);
  return (
    <section>
      <h1>Preview of the next send</h1>
      <p>
        This is exactly the body the next remote send would POST, collected just now; it stores and sends nothing. Its id, time and checksum change
        with each preview. Each field is explained as in <code>docs/telemetry.md</code>.
      </p>
      <button type="button" class="secondary" onClick={body.reload} disabled={body.loading}>
        Collect again
      </button>
      {body.loading && <Loading what="the preview" />}
      {body.error && <ErrorNotice error={body.error} retry={body.reload} />}
      {body.value && (
        <div class="card tree-root preview">
          <DataTree value={body.value} explain={explain} open={3} />
        </div>
      )}
    </section>
  );
}
