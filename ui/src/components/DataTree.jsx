/**
 * A JSON value as a collapsible tree: objects and arrays open and close
 * (native <details>, so keyboard and screen readers work); `explain`
 * (path → text) adds a note to a member; the first `open` levels start open.
 */
export function DataTree({ value, path = '', explain, open = 1, label }) {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
    const body = (
      <ul class="tree">
        {entries.map(([k, v]) => (
          <li key={k}>
            <DataTree value={v} path={path ? `${path}.${k}` : k} explain={explain} open={open - 1} label={k} />
          </li>
        ))}
      </ul>
    );
    if (label === undefined) return body;
    return (
      <details open={open > 0}>
        <summary>
          <span class="key">{label}</span> <span class="muted">{summary}</span>
          <Note text={explain?.(path)} />
        </summary>
        {entries.length ? body : <p class="muted">empty</p>}
      </details>
    );
  }
  return (
    <div class="leaf">
      {label !== undefined && <span class="key">{label}: </span>}
      <span class={`value value-${value === null ? 'null' : typeof value}`}>{JSON.stringify(value)}</span>
      <Note text={explain?.(path)} />
    </div>
  );
}

function Note({ text }) {
  if (!text) return null;
  // The docs mark names with backticks.
  return <span class="note">{text.split('`').map((part, i) => (i % 2 ? <code key={i}>{part}</code> : part))}</span>;
}
