import * as api from '../api.js';
import { Link, withQuery } from '../router.jsx';
import { useSession } from '../session.js';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ChecksumMark } from './ChecksumMark.jsx';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { SendStatus } from './SendStatus.jsx';
import { Time } from './Time.jsx';

/** Where telemetry stands: remote sending, the next run, the latest snapshot, counts, integrity, storage. */
export function OverviewPage() {
  useTitle('Overview');
  const session = useSession();
  if (!session.can('READ_TELEMETRY')) {
    return (
      <section>
        <h1>Welcome, {session.account.username}</h1>
        <p>Your roles do not include READ_TELEMETRY, so telemetry is not shown to you.</p>
        <p>
          {(session.can('MANAGE_ACCOUNTS') || session.can('MANAGE_PERMISSIONS')) && (
            <>
              Manage <Link href="/access">accounts and roles</Link>, or your{' '}
            </>
          )}
          <Link href="/tokens">API tokens</Link>.
        </p>
      </section>
    );
  }
  return <Overview />;
}

function Overview() {
  const status = useAsync(() => api.telemetryStatus(), []);
  const check = useAsync(() => api.integrity({}), []);
  return (
    <section>
      <h1>Overview</h1>
      {status.loading && <Loading what="the telemetry status" />}
      {status.error && <ErrorNotice error={status.error} retry={status.reload} />}
      {status.value && <StatusCards s={status.value} />}
      <h2>Integrity</h2>
      {check.loading && <Loading what="the integrity check" />}
      {check.error && <ErrorNotice error={check.error} retry={check.reload} />}
      {check.value &&
        (check.value.problems.length === 0 ? (
          <p class="success">
            <span aria-hidden="true">✓</span> All {check.value.checked} stored snapshots verify: every checksum and chain link is intact.
          </p>
        ) : (
          <p class="error">
            <span aria-hidden="true">✗</span> {check.value.problems.length} problem{check.value.problems.length === 1 ? '' : 's'} in {check.value.checked}{' '}
            snapshots. <Link href="/integrity?check=1">See them on the Integrity page</Link>.
          </p>
        ))}
    </section>
  );
}

function StatusCards({ s }) {
  const sending = s.remoteEnabled ? 'on' : 'off';
  return (
    <div class="cards">
      <div class="card">
        <h2>Remote sending</h2>
        <p class={`big ${s.remoteEnabled ? 'ok' : 'muted'}`}>{sending}</p>
        {s.doNotTrack && <p>DO_NOT_TRACK is set: nothing is sent, whatever the flag says.</p>}
        {!s.remoteEnabled && !s.doNotTrack && <p>Snapshots are kept here only. Turn on with --telemetry-remote=true.</p>}
        <p class="hint">
          Endpoint: <span class="mono break">{s.endpoint}</span>
        </p>
        <p>
          <Link href="/preview">Preview what would be sent</Link>
        </p>
      </div>
      <div class="card">
        <h2>Next run</h2>
        <p>
          <strong>
            <Time iso={s.nextRunAt} />
          </strong>
        </p>
        <p class="hint">Daily at {s.schedule} UTC plus this deployment's jitter.</p>
      </div>
      <div class="card">
        <h2>Latest snapshot</h2>
        {s.latest ? (
          <>
            <p>
              <Link href={`/snapshots/${encodeURIComponent(s.latest.id)}`}>
                <Time iso={s.latest.createdAt} />
              </Link>
            </p>
            <p>
              <SendStatus status={s.latest.remoteSendStatus} error={s.latest.remoteSendError} /> <ChecksumMark valid={s.latest.checksumValid} />{' '}
              version {s.latest.version}
            </p>
          </>
        ) : (
          <p>None yet: the first is made at the next run.</p>
        )}
      </div>
      <div class="card">
        <h2>Snapshots by send status</h2>
        <ul class="counts">
          {s.countsByStatus.map((c) => (
            <li key={c.status}>
              <Link href={withQuery('/snapshots', { status: c.status.toLowerCase() })}>
                <span class={`badge badge-${c.status.toLowerCase()}`}>{c.status.toLowerCase()}</span> {c.count}
              </Link>
            </li>
          ))}
        </ul>
      </div>
      <div class="card">
        <h2>Storage</h2>
        <p>
          Store: <strong>{s.storeBackend}</strong>
        </p>
        <p>Retention: {s.retention ? `${s.retention} days` : 'keep forever'}</p>
        <p class="hint">
          Deployment: <span class="mono break">{s.deploymentId}</span>
        </p>
      </div>
    </div>
  );
}
