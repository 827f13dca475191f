import * as api from '../api.js';
import { ALL, cannotGrant } from '../permissions.js';
import { useSession } from '../session.js';
import { useAction } from '../useAction.js';
import { useAsync } from '../useAsync.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Loading } from './Loading.jsx';

const BUILT_IN = ['super-admin', 'telemetry-reader'];

/** Roles: create, set what they grant, delete. */
export function RolesPanel({ version, onChange }) {
  const session = useSession();
  const roles = useAsync(() => api.roles(), [version]);
  const { act, error, message } = useAction(onChange);
  const lacks = (p) => cannotGrant(session.permissions, [p]);

  if (roles.loading && !roles.value) return <Loading what="roles" />;
  if (roles.error) return <ErrorNotice error={roles.error} retry={roles.reload} />;

  const permissionBoxes = (role) =>
    ALL.map((p) => {
      const reason = role && BUILT_IN.includes(role.name) ? 'Built-in roles cannot be changed' : lacks(p);
      return (
        <label class="inline" key={p} title={reason}>
          <input type="checkbox" name="permissions" value={p} defaultChecked={role?.permissions.includes(p)} disabled={!!reason} />
          {p}
        </label>
      );
    });

  return (
    <section aria-labelledby="roles-title">
      <h2 id="roles-title">Roles</h2>
      {message && (
        <p role="status" class="success">
          {message}
        </p>
      )}
      {error && <ErrorNotice error={error} />}
      <ul class="roles">
        {roles.value.map((r) => {
          const builtIn = BUILT_IN.includes(r.name);
          return (
            <li key={r.name + r.permissions.join()} class="card">
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  const permissions = new FormData(e.currentTarget).getAll('permissions');
                  act(() => api.setRolePermissions(r.name, permissions), `Role ${r.name} now grants ${permissions.join(', ') || 'nothing'}.`);
                }}
              >
                <fieldset>
                  <legend>
                    <strong>{r.name}</strong> {builtIn && <span class="hint">(built in)</span>}
                  </legend>
                  {permissionBoxes(r)}
                </fieldset>
                {builtIn && <p class="hint">Built-in roles cannot be changed or deleted.</p>}
                <div class="actions">
                  <button type="submit" class="secondary" disabled={builtIn} title={builtIn ? 'Built-in roles cannot be changed' : undefined}>
                    Save permissions
                  </button>
                  <button
                    type="button"
                    class="danger"
                    disabled={builtIn}
                    title={builtIn ? 'Built-in roles cannot be deleted' : 'A role still held by an account cannot be deleted'}
                    onClick={() => act(() => api.deleteRole(r.name), `Role ${r.name} deleted.`)}
                  >
                    Delete
                  </button>
                </div>
              </form>
            </li>
          );
        })}
      </ul>
      <form
        class="card stack"
        aria-labelledby="new-role"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const f = new FormData(form);
          const name = f.get('name').trim();
          act(async () => {
            await api.createRole(name, f.getAll('permissions'));
            form.reset();
          }, `Role ${name} created.`);
        }}
      >
        <h3 id="new-role">New role</h3>
        <label>
          Name
          <input name="name" required autocomplete="off" />
        </label>
        <fieldset>
          <legend>Permissions</legend>
          {permissionBoxes(null)}
        </fieldset>
        <button type="submit">Create role</button>
      </form>
    </section>
  );
}
