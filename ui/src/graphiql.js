// The GraphiQL explorer at /graphiql, bundled apart from the console so the
// console's first load stays small. It queries as the signed-in caller,
// through the same session as the console.
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { explorerFetch, resumeSession, whenSessionEnds } from './api.js';
import './graphiql.css';

const toSignIn = () => location.assign('/signin?next=%2Fgraphiql');
whenSessionEnds(toSignIn);

if (await resumeSession()) {
  const defaultQuery = `# Runs as you, with your roles. Schema: the book icon.
{
  me { username roles { name permissions } }
  telemetrySnapshots(limit: 5) { count nodes { id createdAt remoteSendStatus checksumValid } }
}
`;
  createRoot(document.getElementById('app')).render(createElement(GraphiQL, { fetcher: explorerFetch, defaultQuery }));
} else {
  toSignIn();
}
