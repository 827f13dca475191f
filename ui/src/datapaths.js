// Snapshot data as paths ("store.nodes_by_label.TelemetrySnapshot") to its
// leaf values, for comparing two snapshots and charting one path over time.

/** Every leaf of value as [path, leaf]; empty objects and arrays are leaves. */
export function leaves(value, prefix = '') {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    if (entries.length) return entries.flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The differences between two data objects, by path in byte order:
 * {path, kind: 'added'|'removed'|'changed', before, after}, and how many
 * paths are unchanged.
 */
export function diff(before, after) {
  const a = new Map(leaves(before));
  const b = new Map(leaves(after));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes = [];
  let unchanged = 0;
  for (const path of paths) {
    if (!a.has(path)) changes.push({ path, kind: 'added', after: b.get(path) });
    else if (!b.has(path)) changes.push({ path, kind: 'removed', before: a.get(path) });
    else if (!same(a.get(path), b.get(path))) changes.push({ path, kind: 'changed', before: a.get(path), after: b.get(path) });
    else unchanged++;
  }
  return { changes, unchanged };
}

/** The paths of data whose value is a number. */
export function numericPaths(data) {
  return leaves(data)
    .filter(([, v]) => typeof v === 'number')
    .map(([p]) => p)
    .sort();
}

/** The value at path in data, or undefined. */
export function valueAt(data, path) {
  return path.split('.').reduce((v, k) => (v !== null && typeof v === 'object' ? v[k] : undefined), data);
}
