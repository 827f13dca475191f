import { Link } from '../router.jsx';

/** The outcome of an integrity check: how many were checked, and each problem by snapshot id. */
export function ProblemList({ checked, problems, linkIds = true }) {
  if (!problems.length) {
    return (
      <p role="status" class="success">
        <span aria-hidden="true">✓</span> {checked} snapshot{checked === 1 ? '' : 's'} checked: every checksum and chain link is intact.
      </p>
    );
  }
  return (
    <div role="status">
      <p class="error">
        <span aria-hidden="true">✗</span> {checked} snapshot{checked === 1 ? '' : 's'} checked: {problems.length} problem{problems.length === 1 ? '' : 's'}.
      </p>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Problems by snapshot id</caption>
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              {problems[0].kind !== undefined && <th scope="col">Kind</th>}
              <th scope="col">Problem</th>
            </tr>
          </thead>
          <tbody>
            {problems.map((p, i) => (
              <tr key={i}>
                <td class="mono">{linkIds ? <Link href={`/snapshots/${encodeURIComponent(p.id)}`}>{p.id}</Link> : p.id}</td>
                {p.kind !== undefined && <td>{p.kind}</td>}
                <td>{p.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
