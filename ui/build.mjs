// Builds the console into ../console/dist: fingerprinted bundles, the two
// pages that load them, and manifest.json (the source hash the Go test
// recomputes, and the sections the server answers with the app).
// Run through `make ui`, after `npm ci`.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { sections } from './src/routes.js';
import { parseFieldDocs } from './src/fielddocs.js';

const ui = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(ui);
const out = path.join(root, 'console', 'dist');
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

// sourceHash must agree with console's sourceHash (console/source_test.go).
function sourceHash() {
  const paths = ['docs/telemetry.md'];
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory() && rel !== 'ui/node_modules') walk(rel);
      else if (entry.isFile()) paths.push(rel);
    }
  };
  walk('ui');
  paths.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return sha256(paths.map((p) => `${p}\n${sha256(readFileSync(path.join(root, p)))}\n`).join(''));
}

// The preview's explanations, from docs/telemetry.md at build time.
const fieldDocs = {
  name: 'field-docs',
  setup(build) {
    build.onResolve({ filter: /^field-docs$/ }, () => ({ path: 'field-docs', namespace: 'field-docs' }));
    build.onLoad({ filter: /.*/, namespace: 'field-docs' }, () => ({
      contents: JSON.stringify(parseFieldDocs(readFileSync(path.join(root, 'docs', 'telemetry.md'), 'utf8'))),
      loader: 'json',
    }));
  },
};

const common = {
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  outdir: out,
  entryNames: 'assets/[name]-[hash]',
  assetNames: 'assets/[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'assets'), { recursive: true });

const app = await esbuild.build({
  ...common,
  entryPoints: { app: 'src/main.jsx' },
  jsx: 'automatic',
  jsxImportSource: 'preact',
  plugins: [fieldDocs],
});
const graphiql = await esbuild.build({ ...common, entryPoints: { graphiql: 'src/graphiql.js' } });

// The outputs of one build: the entry's script and its stylesheet.
function outputs(result) {
  const files = Object.keys(result.metafile.outputs).map((f) => '/' + path.relative(out, path.resolve(ui, f)));
  return { js: files.find((f) => f.endsWith('.js')), css: files.find((f) => f.endsWith('.css')) };
}

const icon = readFileSync(path.join(ui, 'src', 'icon.svg'));
const iconName = `/assets/icon-${sha256(icon).slice(0, 8).toUpperCase()}.svg`;
writeFileSync(path.join(out, iconName), icon);

const page = (title, { js, css }) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
<link rel="icon" href="${iconName}" type="image/svg+xml">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The telemetryd console needs JavaScript. The API works without it: see the README.</noscript>
</body>
</html>
`;
writeFileSync(path.join(out, 'index.html'), page('telemetryd', outputs(app)));
writeFileSync(path.join(out, 'graphiql.html'), page('GraphiQL · telemetryd', outputs(graphiql)));
writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({ source: sourceHash(), sections }, null, 2) + '\n');
