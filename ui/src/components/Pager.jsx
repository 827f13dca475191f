/** Previous/next page buttons with where the page lies in the total. */
export function Pager({ offset, pageSize, count, onPage }) {
  if (count <= pageSize && offset === 0) return null;
  const page = Math.floor(offset / pageSize) + 1;
  const pages = Math.max(1, Math.ceil(count / pageSize));
  return (
    <nav class="pager" aria-label="Pages of results">
      <button type="button" class="secondary" disabled={offset === 0} onClick={() => onPage(Math.max(0, offset - pageSize))}>
        ← Newer
      </button>
      <span>
        Page {page} of {pages}
      </span>
      <button type="button" class="secondary" disabled={offset + pageSize >= count} onClick={() => onPage(offset + pageSize)}>
        Older →
      </button>
    </nav>
  );
}
