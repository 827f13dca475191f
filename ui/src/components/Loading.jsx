/** A loading notice screen readers announce. */
export function Loading({ what }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}
