/** A snapshot's remote send status, with the reason when it failed. */
export function SendStatus({ status, error }) {
  const s = status.toLowerCase();
  return (
    <span class="status-cell">
      <span class={`badge badge-${s}`}>{s}</span>
      {error && <span class="reason">{error}</span>}
    </span>
  );
}
