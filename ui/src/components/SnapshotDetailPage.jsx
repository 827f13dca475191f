import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { Link, withQuery } from '../router.jsx';
import { useSession } from '../session.js';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ChainLink } from './ChainLink.jsx';
import { ChecksumMark } from './ChecksumMark.jsx';
import { DataTree } from './DataTree.jsx';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { SendStatus } from './SendStatus.jsx';
import { Time } from './Time.jsx';

/** One snapshot: metadata, checksum and chain, send status, re-send, download, its data as a tree. */
export function SnapshotDetailPage({ id }) {
  useTitle('Snapshot');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <SnapshotDetail id={id} />
    </NeedsPermission>
  );
}

function SnapshotDetail({ id }) {
  const snap = useAsync(() => api.getSnapshot(id), [id]);
  if (snap.loading) return <Loading what="the snapshot" />;
  if (snap.error) return <ErrorNotice error={snap.error} retry={snap.error.code === 'NOT_FOUND' ? undefined : snap.reload} />;
  return <SnapshotView initial={snap.value} />;
}

function SnapshotView({ initial }) {
  const session = useSession();
  const [s, setS] = useState(initial);
  const [busy, setBusy] = useState('');
  const [message, setMessage] = useState(null);
  const [error, setError] = useState(null);
  const superAdmin = session.can('SUPER_ADMIN');

  const act = async (what, fn) => {
    setBusy(what);
    setError(null);
    setMessage(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const resend = () =>
    act('resend', async () => {
      const updated = await api.resendSnapshot(s.id);
      setS(updated);
      setMessage(`Re-sent: the snapshot is now ${updated.remoteSendStatus.toLowerCase()}${updated.remoteSendError ? ` (${updated.remoteSendError})` : ''}.`);
    });
  const download = () =>
    act('download', async () => {
      const { name } = await api.downloadSnapshot(s.id);
      setMessage(`Downloaded ${name}.`);
    });

  return (
    <section>
      <p class="crumbs">
        <Link href="/snapshots">← Snapshots</Link>
      </p>
      <h1>
        Snapshot of <Time iso={s.createdAt} />
      </h1>
      <div class="actions">
        <button type="button" onClick={download} disabled={busy !== ''}>
          {busy === 'download' ? 'Downloading…' : 'Download JSON'}
        </button>
        <button
          type="button"
          class="secondary"
          onClick={resend}
          disabled={!superAdmin || busy !== ''}
          aria-describedby={superAdmin ? undefined : 'resend-why'}
        >
          {busy === 'resend' ? 'Sending…' : 'Re-send now'}
        </button>
        {!superAdmin && (
          <span id="resend-why" class="hint">
            Re-sending needs SUPER_ADMIN.
          </span>
        )}
        <Link href={withQuery('/compare', { b: s.id })} class="button secondary">
          Compare with another…
        </Link>
      </div>
      {message && (
        <p class="success" role="status">
          {message}
        </p>
      )}
      {error && <ErrorNotice error={error} />}
      <dl class="meta">
        <dt>Id</dt>
        <dd class="mono">{s.id}</dd>
        <dt>Created</dt>
        <dd>
          <Time iso={s.createdAt} />
        </dd>
        <dt>Version</dt>
        <dd>{s.version}</dd>
        <dt>Kind / payload format</dt>
        <dd>
          {s.kind} / {s.payloadFormat}
        </dd>
        <dt>Deployment</dt>
        <dd class="mono">
          <Link href={withQuery('/snapshots', { deployment_id: s.deploymentId })}>{s.deploymentId}</Link>
        </dd>
        <dt>Checksum</dt>
        <dd>
          <ChecksumMark valid={s.checksumValid} /> <span class="mono break">{s.checksum}</span>
          <span class="hint">{s.checksumValid ? ' matches the content' : ' does not match the content: it was altered after sealing'}</span>
        </dd>
        <dt>Previous checksum</dt>
        <dd>
          <ChainLink snapshot={s} />
        </dd>
        <dt>Send status</dt>
        <dd>
          <SendStatus status={s.remoteSendStatus} error={s.remoteSendError} />
          {s.remoteSendAt && (
            <>
              {' '}
              at <Time iso={s.remoteSendAt} />
            </>
          )}
        </dd>
      </dl>
      <h2>Data</h2>
      <div class="card tree-root">
        <DataTree value={s.data} open={1} />
      </div>
    </section>
  );
}
