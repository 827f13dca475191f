import { useSession } from '../session.js';

/** Shows children only when the caller holds one of `any`, else says which permission is missing. */
export function NeedsPermission({ any, children }) {
  const session = useSession();
  if (any.some((p) => session.can(p))) return children;
  return (
    <section>
      <h1>Not available to you</h1>
      <p>
        This page needs {any.join(' or ')}. Your roles do not grant it; ask an administrator, then sign in again.
      </p>
    </section>
  );
}
