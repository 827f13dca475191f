// How the console shows times and sizes.

/**
 * A UTC timestamp as the API sends it (six fractional digits) for display:
 * "2026-11-22 02:17:05.123456 UTC". Exact digits are kept as sent.
 */
export function utc(iso) {
  if (!iso) return '—';
  const m = iso.match(/^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z$/);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/** The same moment in the browser's local time zone, for hover text. */
export function local(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : `Local time: ${d.toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'long' })}`;
}

export function bytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A UTC date (YYYY-MM-DD) `days` before today. */
export function daysAgo(days) {
  return new Date(Date.now() - days * 86400_000).toISOString().slice(0, 10);
}
