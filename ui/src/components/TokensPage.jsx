import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { useTitle } from '../title.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';
import { Time } from './Time.jsx';

/** The caller's own API tokens: create (the value is shown once), list, revoke. */
export function TokensPage() {
  useTitle('API tokens');
  const tokens = useAsync(() => api.apiTokens(), []);
  const [created, setCreated] = useState(null);
  const [copied, setCopied] = useState('');
  const [error, setError] = useState(null);

  const create = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(null);
    setCopied('');
    try {
      setCreated(await api.createApiToken(f.get('name').trim(), f.get('expires')));
      form.reset();
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (t) => {
    setError(null);
    try {
      await api.revokeApiToken(t.id);
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('The browser refused the clipboard: select the token and copy it by hand.');
    }
  };

  return (
    <section>
      <h1>API tokens</h1>
      <p>
        Tokens let scripts call the API as you, with your roles: <code>Authorization: Bearer tdk_…</code>. Revoke one when a script no longer needs
        it.
      </p>
      {error && <ErrorNotice error={error} />}
      {created && (
        <div class="card created" role="status">
          <p>
            <strong>Token {created.name} created.</strong> Copy it now: it is shown only this once.
          </p>
          <p class="token">
            <code class="mono break" id="new-token">
              {created.token}
            </code>
          </p>
          <button type="button" onClick={copy} aria-describedby="new-token">
            Copy token
          </button>{' '}
          <span aria-live="polite">{copied}</span>
        </div>
      )}
      <form class="filters" onSubmit={create} aria-label="New API token">
        <label class="grow">
          Name
          <input name="name" required autocomplete="off" placeholder="nightly-export" />
        </label>
        <label>
          Expires (UTC day, optional)
          <input type="date" name="expires" />
        </label>
        <button type="submit">Create token</button>
      </form>
      {tokens.loading && !tokens.value && <Loading what="your tokens" />}
      {tokens.error && <ErrorNotice error={tokens.error} retry={tokens.reload} />}
      {tokens.value && tokens.value.length === 0 && <p>You have no API tokens.</p>}
      {tokens.value && tokens.value.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.value.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.name}</th>
                  <td>
                    <Time iso={t.createdAt} />
                  </td>
                  <td>{t.expiresAt ? <Time iso={t.expiresAt} /> : 'never'}</td>
                  <td>{t.lastUsedAt ? <Time iso={t.lastUsedAt} /> : 'never'}</td>
                  <td>
                    {t.revoked ? (
                      <span class="badge badge-failed">revoked</span>
                    ) : (
                      <button type="button" class="danger" onClick={() => revoke(t)} aria-label={`Revoke token ${t.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
