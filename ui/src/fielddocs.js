// Reads the field tables of docs/telemetry.md at build time: the record's
// own fields ("The record sent") and those of `data` ("Fields of data"),
// keyed by their path in the record the remote send POSTs.

const row = /^\|\s*`([^`]+)`\s*\|(.*)\|(.*)\|\s*$/;

export function parseFieldDocs(markdown) {
  const docs = {};
  let prefix = null;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) {
      prefix = { '## The record sent': '', '## Fields of `data`': 'data.' }[line.trim()] ?? null;
      continue;
    }
    const m = prefix !== null && line.match(row);
    if (m) docs[prefix + m[1]] = { type: m[2].trim(), why: m[3].trim() };
  }
  return docs;
}
