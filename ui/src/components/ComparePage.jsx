import * as api from '../api.js';
import { diff } from '../datapaths.js';
import { Link, navigate, withQuery } from '../router.jsx';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { Time } from './Time.jsx';

/** Two snapshots side by side as the paths of `data` that were added, removed or changed. */
export function ComparePage({ a, b }) {
  useTitle('Compare');
  return (
    <NeedsPermission any={['READ_TELEMETRY']}>
      <section>
        <h1>Compare two snapshots</h1>
        <form
          class="filters"
          aria-label="Snapshots to compare"
          key={`${a}|${b}`}
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            navigate(withQuery('/compare', { a: f.get('a').trim(), b: f.get('b').trim() }));
          }}
        >
          <label class="grow">
            Older snapshot id
            <input name="a" defaultValue={a} required spellcheck={false} autocomplete="off" />
          </label>
          <label class="grow">
            Newer snapshot id
            <input name="b" defaultValue={b} required spellcheck={false} autocomplete="off" />
          </label>
          <button type="submit">Compare</button>
          <p class="hint full">
            Or tick two snapshots in the <Link href="/snapshots">snapshot list</Link> and choose “Compare selected”.
          </p>
        </form>
        {a && b && <CompareView a={a} b={b} />}
      </section>
    </NeedsPermission>
  );
}

function CompareView({ a, b }) {
  const pair = useAsync(async () => {
    const [x, y] = await Promise.all([api.getSnapshot(a), api.getSnapshot(b)]);
    return x.createdAt <= y.createdAt ? [x, y] : [y, x];
  }, [a, b]);
  if (pair.loading) return <Loading what="both snapshots" />;
  if (pair.error) return <ErrorNotice error={pair.error} retry={pair.reload} />;
  const [older, newer] = pair.value;
  const { changes, unchanged } = diff(older.data, newer.data);
  const counts = ['added', 'removed', 'changed'].map((k) => `${changes.filter((c) => c.kind === k).length} ${k}`);
  return (
    <>
      <div class="pair">
        <p>
          Older: <Link href={`/snapshots/${encodeURIComponent(older.id)}`}><Time iso={older.createdAt} /></Link> · {older.version}
        </p>
        <p>
          Newer: <Link href={`/snapshots/${encodeURIComponent(newer.id)}`}><Time iso={newer.createdAt} /></Link> · {newer.version}
        </p>
      </div>
      <p role="status">
        {counts.join(', ')}; {unchanged} unchanged.
      </p>
      {changes.length > 0 && (
        <div class="table-wrap">
          <table class="diff">
            <caption class="sr-only">Differences in data, by path</caption>
            <thead>
              <tr>
                <th scope="col">Path in data</th>
                <th scope="col">Change</th>
                <th scope="col">Older</th>
                <th scope="col">Newer</th>
              </tr>
            </thead>
            <tbody>
              {changes.map((c) => (
                <tr key={c.path} class={`diff-${c.kind}`}>
                  <th scope="row" class="mono">
                    {c.path}
                  </th>
                  <td>{c.kind}</td>
                  <td class="mono">{c.kind === 'added' ? '' : JSON.stringify(c.before)}</td>
                  <td class="mono">{c.kind === 'removed' ? '' : JSON.stringify(c.after)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
