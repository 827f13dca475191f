// Verifies an export file in the browser, as `telemetryctl telemetry verify
// --file` does: each checksum is the SHA-256 of the RFC 8785 canonical JSON
// of the sealed members, and previous_checksum chains each deployment's
// snapshots newest first. Nothing leaves the browser.
import canonicalize from 'canonicalize';

const sealed = ['created_at', 'data', 'deployment_id', 'id', 'kind', 'payload_format', 'previous_checksum', 'version'];

async function sha256hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The checksum a record should have. */
export async function checksumOf(record) {
  return sha256hex(canonicalize(Object.fromEntries(sealed.map((k) => [k, record[k] ?? null]))));
}

/**
 * Checks the records of an export file (its parsed JSON), newest first.
 * Returns {checked, problems: [{id, message}]}. As on the server, the
 * oldest record of each deployment anchors its chain.
 */
export async function verifyExport(records) {
  if (!Array.isArray(records)) throw new Error('This is not an export file: it must hold a JSON array of snapshots.');
  const problems = [];
  const newer = new Map();
  for (const [i, r] of records.entries()) {
    if (r === null || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.checksum !== 'string') {
      problems.push({ id: `record ${i + 1}`, message: 'not a snapshot record: it lacks an id or a checksum' });
      continue;
    }
    if ((await checksumOf(r)) !== r.checksum) {
      problems.push({ id: r.id, message: `checksum mismatch: the content does not match checksum ${r.checksum}` });
    }
    const n = newer.get(r.deployment_id);
    if (n && r.created_at > n.created_at) {
      problems.push({ id: r.id, message: `out of order: created after ${n.id} but listed after it` });
    } else if (n && n.previous_checksum == null) {
      problems.push({ id: n.id, message: `chain break: previous_checksum is null but older snapshot ${r.id} exists` });
    } else if (n && n.previous_checksum !== r.checksum) {
      problems.push({ id: n.id, message: `chain break: previous_checksum does not match the checksum of ${r.id}` });
    }
    newer.set(r.deployment_id, r);
  }
  return { checked: records.length, problems };
}
