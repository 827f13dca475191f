import * as api from '../api.js';
import { cannotGrant } from '../permissions.js';
import { useSession } from '../session.js';
import { useAction } from '../useAction.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';

/** Accounts: create, disable or enable, assign and revoke roles. */
export function AccountsPanel({ version, onChange }) {
  const session = useSession();
  const data = useAsync(() => Promise.all([api.accounts(), api.roles()]), [version]);
  const { act, error, message } = useAction(onChange);

  if (data.loading && !data.value) return <Loading what="accounts" />;
  if (data.error) return <ErrorNotice error={data.error} retry={data.reload} />;
  const [accounts, roles] = data.value;
  // The server refuses to disable the last active super-admin; say so
  // before anyone tries.
  const activeSuperAdmins = accounts.filter((a) => !a.disabled && a.roles.some((r) => r.name === 'super-admin')).length;
  const cannotDisable = (a) =>
    !a.disabled && activeSuperAdmins === 1 && a.roles.some((r) => r.name === 'super-admin')
      ? 'The last active super-admin cannot be disabled.'
      : '';
  const why = (role) => cannotGrant(session.permissions, role.permissions);

  const create = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const username = f.get('username').trim();
    act(async () => {
      await api.createAccount(username, f.get('password'), f.getAll('roles'));
      form.reset();
    }, `Account ${username} created.`);
  };

  return (
    <section aria-labelledby="accounts-title">
      <h2 id="accounts-title">Accounts</h2>
      {message && (
        <p role="status" class="success">
          {message}
        </p>
      )}
      {error && <ErrorNotice error={error} />}
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Accounts</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Roles</th>
              <th scope="col">Assign a role</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => {
              const assignable = roles.filter((r) => !a.roles.some((h) => h.name === r.name));
              return (
                <tr key={a.id}>
                  <th scope="row">
                    {a.username}
                    {a.id === session.account.id && <span class="hint"> (you)</span>}
                  </th>
                  <td>
                    <ul class="chips">
                      {a.roles.map((r) => (
                        <li key={r.name}>
                          {r.name}
                          <button
                            type="button"
                            class="chip-x"
                            aria-label={`Revoke ${r.name} from ${a.username}`}
                            title={why(r) || `Revoke ${r.name}`}
                            disabled={!!why(r)}
                            onClick={() => act(() => api.revokeRole(a.username, r.name), `Revoked ${r.name} from ${a.username}.`)}
                          >
                            ×
                          </button>
                        </li>
                      ))}
                      {a.roles.length === 0 && <li class="muted">none</li>}
                    </ul>
                  </td>
                  <td>
                    <form
                      class="inline-form"
                      onSubmit={(e) => {
                        e.preventDefault();
                        const role = new FormData(e.currentTarget).get('role');
                        if (role) act(() => api.assignRole(a.username, role), `Assigned ${role} to ${a.username}; it applies from their next sign-in.`);
                      }}
                    >
                      <label>
                        <span class="sr-only">Role to assign to {a.username}</span>
                        <select name="role">
                          <option value="">Choose a role…</option>
                          {assignable.map((r) => (
                            <option key={r.name} value={r.name} disabled={!!why(r)}>
                              {r.name}
                              {why(r) ? ` — ${why(r)}` : ''}
                            </option>
                          ))}
                        </select>
                      </label>
                      <button type="submit" class="secondary">
                        Assign
                      </button>
                    </form>
                  </td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      onClick={() =>
                        act(() => api.setAccountDisabled(a.username, !a.disabled), `${a.username} is now ${a.disabled ? 'enabled' : 'disabled'}.`)
                      }
                      aria-label={`${a.disabled ? 'Enable' : 'Disable'} ${a.username}`}
                      title={cannotDisable(a) || undefined}
                      disabled={!!cannotDisable(a)}
                    >
                      {a.disabled ? 'Enable' : 'Disable'}
                    </button>
                    {a.disabled && <span class="badge badge-failed">disabled</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <form class="card stack" onSubmit={create} aria-labelledby="new-account">
        <h3 id="new-account">New account</h3>
        <label>
          Username
          <input name="username" required autocomplete="off" />
        </label>
        <label>
          Password (12 characters or more)
          <input name="password" type="password" required minLength={12} autocomplete="new-password" />
        </label>
        <fieldset>
          <legend>Roles</legend>
          {roles.map((r) => (
            <label class="inline" key={r.name} title={why(r)}>
              <input type="checkbox" name="roles" value={r.name} disabled={!!why(r)} />
              {r.name}
              {why(r) && <span class="hint"> ({why(r)})</span>}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create account</button>
      </form>
    </section>
  );
}
