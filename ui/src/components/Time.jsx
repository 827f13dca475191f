import { local, utc } from '../format.js';

/** A moment in UTC as the API gives it, with local time on hover. */
export function Time({ iso }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={local(iso)}>
      {utc(iso)}
    </time>
  );
}
