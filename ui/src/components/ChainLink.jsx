import * as api from '../api.js';
import { Link } from '../router.jsx';
import { useAsync } from '../useAsync.js';
import { Loading } from './Loading.jsx';

/**
 * A snapshot's previous_checksum and whether it links to the deployment's
 * stored snapshot before it.
 */
export function ChainLink({ snapshot: s }) {
  const prev = useAsync(async () => {
    const page = await api.listSnapshots({ deploymentId: s.deploymentId, endDate: s.createdAt }, { limit: 2, offset: 0 });
    return page.nodes.find((n) => n.id !== s.id) ?? null;
  }, [s.id]);
  if (prev.loading) return <Loading what="the chain" />;
  const hash = s.previousChecksum && <span class="mono break">{s.previousChecksum}</span>;
  if (prev.error) return <span>{hash} (the previous snapshot could not be read: {prev.error.message})</span>;
  const p = prev.value;
  if (!p) {
    return s.previousChecksum ? (
      <span>
        {hash} <span class="hint">— the snapshot it names is not stored here (removed by retention, or before an import); the chain starts here.</span>
      </span>
    ) : (
      <span class="hint">none: the first snapshot of its deployment.</span>
    );
  }
  if (p.checksum === s.previousChecksum) {
    return (
      <span>
        <span class="ok" aria-hidden="true">
          ✓
        </span>{' '}
        {hash} <span class="hint">links to </span>
        <Link href={`/snapshots/${encodeURIComponent(p.id)}`}>the snapshot before it</Link>
      </span>
    );
  }
  return (
    <span>
      <span class="bad" aria-hidden="true">
        ✗
      </span>{' '}
      {hash ?? 'null'} <span class="hint">— chain break: it does not match the checksum of </span>
      <Link href={`/snapshots/${encodeURIComponent(p.id)}`}>the snapshot before it</Link>
    </span>
  );
}
