// Every call the console makes to telemetryd goes through this module: the
// session (/api/auth/*), GraphQL and the REST routes. The access token lives
// in this module's memory only; a reload gets a new one through the refresh
// cookie, which scripts cannot read.

let accessToken = null;
let refreshing = null;
let onSessionEnded = () => {};

// A mark (no secret) that this browser signed in, so a fresh visit does not
// ask for a refresh it knows will be refused: a 401 the browser would log
// as an error on every visit to the sign-in page.
const SIGNED_IN = 'telemetryd.signedIn';
const mark = (on) => (on ? localStorage.setItem(SIGNED_IN, '1') : localStorage.removeItem(SIGNED_IN));

/** An answer of the API that is not a success, with what to do about it. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = '' } = {}) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Registers what to do when the session ends and cannot be renewed. */
export function whenSessionEnds(fn) {
  onSessionEnded = fn;
}

async function readError(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = '';
  try {
    const body = await res.json();
    if (body?.errors?.[0]?.message) message = body.errors[0].message;
    code = body?.errors?.[0]?.extensions?.code ?? '';
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(message, { status: res.status, code });
}

async function send(url, init = {}) {
  try {
    return await fetch(url, { credentials: 'same-origin', ...init });
  } catch {
    throw new ApiError('telemetryd cannot be reached. Check that the server runs, then try again.');
  }
}

async function postJSON(url, body, headers = {}) {
  return send(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Signs in; the server also sets the refresh cookie. */
export async function signIn(username, password) {
  const res = await postJSON('/api/auth/login', { username, password });
  if (res.status === 401) throw new ApiError('Wrong username or password.', { status: 401 });
  if (!res.ok) throw await readError(res);
  accessToken = (await res.json()).access_token;
  mark(true);
}

/**
 * Gets a new access token through the refresh cookie. Returns whether the
 * session is alive; concurrent callers share one request.
 */
export function resumeSession() {
  if (!localStorage.getItem(SIGNED_IN)) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await send('/api/auth/refresh', { method: 'POST' });
      if (res.status === 401) {
        accessToken = null;
        mark(false);
        return false;
      }
      if (!res.ok) throw await readError(res);
      accessToken = (await res.json()).access_token;
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** Ends the session on the server and forgets the token. */
export async function signOut() {
  try {
    await send('/api/auth/logout', { method: 'POST' });
  } finally {
    accessToken = null;
    mark(false);
  }
}

// The claims of the access token; the server checks its signature, the
// console only reads what it says.
function claims() {
  try {
    return JSON.parse(atob(accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}

/** The role names the current access token carries (they apply until the next sign-in). */
export function tokenRoles() {
  return claims().roles ?? [];
}

// expiresSoon tells whether the access token expires within 30 seconds, so
// it is renewed before a request rather than after a refusal.
function expiresSoon() {
  const { exp } = claims();
  return !exp || exp * 1000 - Date.now() < 30_000;
}

// authorized sends a request with the access token, renewing it first when
// it is about to expire; on 401 it renews the token once and retries, and
// when that fails too the session has ended.
async function authorized(url, init = {}) {
  const attempt = () => send(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${accessToken}` } });
  let res = accessToken && !expiresSoon() ? await attempt() : null;
  if (!res || res.status === 401) {
    if (!(await resumeSession())) throw sessionEnded();
    res = await attempt();
    if (res.status === 401) throw sessionEnded();
  }
  return res;
}

function sessionEnded() {
  onSessionEnded();
  return new ApiError('Your session has ended. Sign in again.', { status: 401, code: 'UNAUTHENTICATED' });
}

// graphql runs one operation. GraphQL refuses a token in its answer, not
// with a 401, so a refusal renews the token once here too.
async function graphql(query, variables = {}, renewed = false) {
  const res = await authorized('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw await readError(res);
  }
  if (body.errors?.length) {
    const [e] = body.errors;
    const code = e.extensions?.code ?? '';
    if (code === 'UNAUTHENTICATED') {
      if (!renewed && (await resumeSession())) return graphql(query, variables, true);
      throw sessionEnded();
    }
    throw new ApiError(e.message, { status: res.status, code });
  }
  if (!res.ok) throw new ApiError(`${res.status} ${res.statusText}`, { status: res.status });
  return body.data;
}

/** The GraphQL fetcher of the explorer: the caller's own session, nothing more. */
export async function explorerFetch(params) {
  const res = await authorized('/graphql', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(params) });
  return res.json();
}

// Downloads a response as a file named after its Content-Disposition.
async function download(res, fallbackName) {
  if (!res.ok) throw await readError(res);
  const blob = await res.blob();
  const disposition = res.headers.get('Content-Disposition') ?? '';
  const name = disposition.match(/filename="?([^";]+)"?/)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, bytes: blob.size };
}

const snapshotFields = `id createdAt kind payloadFormat deploymentId version checksum previousChecksum checksumValid
  remoteSendStatus remoteSendAt remoteSendError`;

/** Arguments of a snapshot filter that are set, as GraphQL variable declarations and arguments. */
function filterArgs(filter) {
  const types = { startDate: 'DateTime', endDate: 'DateTime', deploymentId: 'String', remoteSendStatus: '[RemoteSendStatus!]' };
  const set = Object.keys(types).filter((k) => filter[k]?.length);
  return {
    decls: set.map((k) => `$${k}: ${types[k]}`),
    args: set.map((k) => `${k}: $${k}`),
    vars: Object.fromEntries(set.map((k) => [k, filter[k]])),
  };
}

/** One page of snapshots matching filter {startDate, endDate, deploymentId, remoteSendStatus}, with the total count. */
export async function listSnapshots(filter, { limit, offset, withData = false }) {
  const f = filterArgs(filter);
  const query = `query (${[...f.decls, '$limit: Int', '$offset: Int'].join(', ')}) {
    telemetrySnapshots(${[...f.args, 'limit: $limit', 'offset: $offset'].join(', ')}) {
      count nodes { ${snapshotFields} ${withData ? 'data' : ''} } } }`;
  return (await graphql(query, { ...f.vars, limit, offset })).telemetrySnapshots;
}

/** The deployments this server received snapshots from, last seen first. */
export async function deployments({ limit, offset = 0, seenSince = null }) {
  const query = `query ($limit: Int, $offset: Int, $seenSince: DateTime) { deployments(limit: $limit, offset: $offset, seenSince: $seenSince) {
    count nodes { deploymentId firstSeen lastSeen snapshotCount latestVersion missingDays chainIntact } } }`;
  return (await graphql(query, { limit, offset, seenSince })).deployments;
}

export async function getSnapshot(id) {
  const data = await graphql(`query ($id: ID!) { telemetrySnapshot(id: $id) { ${snapshotFields} data } }`, { id });
  if (!data.telemetrySnapshot) throw new ApiError(`No snapshot has the id ${id}. Check the link, or find it under Snapshots.`, { code: 'NOT_FOUND' });
  return data.telemetrySnapshot;
}

export async function resendSnapshot(id) {
  return (await graphql(`mutation ($id: ID!) { sendTelemetrySnapshot(id: $id) { ${snapshotFields} data } }`, { id })).sendTelemetrySnapshot;
}

/** Downloads one snapshot as its REST record. */
export async function downloadSnapshot(id) {
  return download(await authorized(`/api/telemetry/snapshots/${encodeURIComponent(id)}`), `snapshot-${id}.json`);
}

/** Downloads the export of every snapshot matching the filter, in REST's parameter names. */
export async function downloadExport(filter) {
  const params = new URLSearchParams();
  if (filter.startDate) params.set('start_date', filter.startDate);
  if (filter.endDate) params.set('end_date', filter.endDate);
  if (filter.deploymentId) params.set('deployment_id', filter.deploymentId);
  if (filter.remoteSendStatus?.length) params.set('status', filter.remoteSendStatus.map((s) => s.toLowerCase()).join(','));
  return download(await authorized(`/api/telemetry/export?${params}`), 'telemetry-export.json');
}

export async function telemetryStatus() {
  return (
    await graphql(`{ telemetryStatus { remoteEnabled doNotTrack endpoint schedule nextRunAt deploymentId storeBackend retention
      latest { id createdAt version remoteSendStatus remoteSendError checksumValid }
      countsByStatus { status count } } }`)
  ).telemetryStatus;
}

/** The server's verify over the filter {startDate, endDate, deploymentId}. */
export async function integrity({ startDate, endDate, deploymentId }) {
  const f = filterArgs({ startDate, endDate, deploymentId });
  const query = `query (${f.decls.join(', ')}) { telemetryIntegrity(${f.args.join(', ')}) { checked problems { id kind message } } }`;
  return (await graphql(query.replace('query () ', 'query ').replace('telemetryIntegrity()', 'telemetryIntegrity'), f.vars)).telemetryIntegrity;
}

export async function preview() {
  return (await graphql('{ telemetryPreview }')).telemetryPreview;
}

const accountFields = 'id username disabled roles { name permissions }';

export async function me() {
  return (await graphql(`{ me { ${accountFields} } }`)).me;
}

export async function accounts() {
  return (await graphql(`{ accounts { ${accountFields} } }`)).accounts;
}

export async function roles() {
  return (await graphql('{ roles { name permissions } }')).roles;
}

export async function createAccount(username, password, roleNames) {
  return (
    await graphql(`mutation ($u: String!, $p: String!, $r: [String!]) { createAccount(username: $u, password: $p, roles: $r) { ${accountFields} } }`, {
      u: username,
      p: password,
      r: roleNames,
    })
  ).createAccount;
}

export async function setAccountDisabled(username, disabled) {
  return (await graphql(`mutation ($u: String!, $d: Boolean!) { setAccountDisabled(username: $u, disabled: $d) { ${accountFields} } }`, { u: username, d: disabled }))
    .setAccountDisabled;
}

export async function assignRole(username, role) {
  return (await graphql(`mutation ($u: String!, $r: String!) { assignRole(username: $u, role: $r) { ${accountFields} } }`, { u: username, r: role })).assignRole;
}

export async function revokeRole(username, role) {
  return (await graphql(`mutation ($u: String!, $r: String!) { revokeRole(username: $u, role: $r) { ${accountFields} } }`, { u: username, r: role })).revokeRole;
}

export async function createRole(name, permissions) {
  return (await graphql('mutation ($n: String!, $p: [GlobalPermission!]!) { createRole(name: $n, permissions: $p) { name permissions } }', { n: name, p: permissions }))
    .createRole;
}

export async function setRolePermissions(name, permissions) {
  return (
    await graphql('mutation ($n: String!, $p: [GlobalPermission!]!) { setRolePermissions(name: $n, permissions: $p) { name permissions } }', { n: name, p: permissions })
  ).setRolePermissions;
}

export async function deleteRole(name) {
  return (await graphql('mutation ($n: String!) { deleteRole(name: $n) }', { n: name })).deleteRole;
}

export async function apiTokens() {
  return (await graphql('{ apiTokens { id name createdAt expiresAt lastUsedAt revoked } }')).apiTokens;
}

export async function createApiToken(name, expiresAt) {
  return (
    await graphql('mutation ($n: String!, $e: DateTime) { createApiToken(name: $n, expiresAt: $e) { id name token expiresAt } }', { n: name, e: expiresAt || null })
  ).createApiToken;
}

export async function revokeApiToken(id) {
  return (await graphql('mutation ($id: ID!) { revokeApiToken(id: $id) }', { id })).revokeApiToken;
}
