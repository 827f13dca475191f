import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { ErrorNotice } from './ErrorNotice.jsx';

/** Sign-in with username and password; the session then survives reloads through an HttpOnly cookie. */
export function SignInPage({ onSignedIn }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const username = useRef(null);
  useEffect(() => {
    document.title = 'Sign in · telemetryd';
    username.current?.focus();
  }, []);

  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await api.signIn(form.get('username'), form.get('password'));
      await onSignedIn();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to telemetryd</h1>
        <label>
          Username
          <input ref={username} name="username" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        {error && <ErrorNotice error={error} />}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">The first start of the server prints the password of the built-in account <code>admin</code>.</p>
      </form>
    </main>
  );
}
