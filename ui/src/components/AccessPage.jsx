import { useState } from 'preact/hooks';
import { useSession } from '../session.js';
import { useTitle } from '../title.js';
import { AccountsPanel } from './AccountsPanel.jsx';
import { NeedsPermission } from './NeedsPermission.jsx';
import { RolesPanel } from './RolesPanel.jsx';

/** Accounts and roles, each shown to callers allowed to manage them. */
export function AccessPage() {
  useTitle('Access');
  const session = useSession();
  // Bumped by every change, so each panel shows what the other changed.
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  return (
    <NeedsPermission any={['MANAGE_ACCOUNTS', 'MANAGE_PERMISSIONS']}>
      <section>
        <h1>Access</h1>
        <p class="hint">
          You can hand out only permissions you hold yourself, and only SUPER_ADMIN hands out SUPER_ADMIN. A role newly assigned to an account applies
          from that account's next sign-in.
        </p>
        {session.can('MANAGE_ACCOUNTS') && <AccountsPanel version={version} onChange={changed} />}
        {session.can('MANAGE_PERMISSIONS') && <RolesPanel version={version} onChange={changed} />}
      </section>
    </NeedsPermission>
  );
}
