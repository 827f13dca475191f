import { Link } from '../router.jsx';
import { ChecksumMark } from './ChecksumMark.jsx';
import { SendStatus } from './SendStatus.jsx';
import { Time } from './Time.jsx';

/** One row per snapshot: when, which version and deployment, send status, checksum; a box to pick it for comparing. */
export function SnapshotTable({ snapshots, selected, onToggle }) {
  return (
    <div class="table-wrap">
      <table class="snapshots">
        <caption class="sr-only">Snapshots, newest first</caption>
        <thead>
          <tr>
            <th scope="col">
              <span class="sr-only">Compare</span>
            </th>
            <th scope="col">Created (UTC)</th>
            <th scope="col">Version</th>
            <th scope="col" class="wide-only">
              Deployment
            </th>
            <th scope="col">Send status</th>
            <th scope="col">Checksum</th>
          </tr>
        </thead>
        <tbody>
          {snapshots.map((s) => (
            <tr key={s.id}>
              <td>
                <input
                  type="checkbox"
                  checked={selected.includes(s.id)}
                  onChange={() => onToggle(s.id)}
                  aria-label={`Pick the snapshot of ${s.createdAt} to compare`}
                />
              </td>
              <td>
                <Link href={`/snapshots/${encodeURIComponent(s.id)}`} aria-label={`Snapshot of ${s.createdAt}`}>
                  <Time iso={s.createdAt} />
                </Link>
              </td>
              <td>{s.version}</td>
              <td class="wide-only mono" title={s.deploymentId}>
                {s.deploymentId.slice(0, 8)}
              </td>
              <td>
                <SendStatus status={s.remoteSendStatus} error={s.remoteSendError} />
              </td>
              <td>
                <ChecksumMark valid={s.checksumValid} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
