// The console's client-side routes. The build copies `sections` into
// dist/manifest.json, so the server answers a reload of any of these paths
// with the app, and knows nothing else of them.

export const sections = ['signin', 'snapshots', 'compare', 'trends', 'fleet', 'export', 'integrity', 'preview', 'access', 'tokens'];
