/** ✓ or ✗ for a checksum, said in words to screen readers. */
export function ChecksumMark({ valid }) {
  return valid ? (
    <span class="ok" title="The checksum matches the content">
      <span aria-hidden="true">✓</span>
      <span class="sr-only">checksum valid</span>
    </span>
  ) : (
    <span class="bad" title="The content does not match its checksum: altered after sealing">
      <span aria-hidden="true">✗</span>
      <span class="sr-only">checksum mismatch</span>
    </span>
  );
}
