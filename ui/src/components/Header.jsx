import { Link } from '../router.jsx';
import { useSession } from '../session.js';

/** The pages the caller may open, each with the permission it needs (any of). */
const pages = [
  { href: '/', label: 'Overview', needs: ['READ_TELEMETRY'] },
  { href: '/snapshots', label: 'Snapshots', needs: ['READ_TELEMETRY'] },
  { href: '/compare', label: 'Compare', needs: ['READ_TELEMETRY'] },
  { href: '/trends', label: 'Trends', needs: ['READ_TELEMETRY'] },
  { href: '/fleet', label: 'Fleet', needs: ['READ_TELEMETRY'] },
  { href: '/export', label: 'Export', needs: ['READ_TELEMETRY'] },
  { href: '/integrity', label: 'Integrity', needs: ['READ_TELEMETRY'] },
  { href: '/preview', label: 'Preview', needs: ['READ_TELEMETRY'] },
  { href: '/access', label: 'Access', needs: ['MANAGE_ACCOUNTS', 'MANAGE_PERMISSIONS'] },
  { href: '/tokens', label: 'API tokens', needs: [] },
];

function current(href, path) {
  return href === '/' ? path === '/' : path === href || path.startsWith(href + '/');
}

/** The top bar: the pages the caller may open, who is signed in, sign-out. */
export function Header({ path, onSignOut }) {
  const session = useSession();
  const visible = pages.filter((p) => !p.needs.length || p.needs.some((n) => session.can(n)));
  return (
    <header class="top">
      <Link href="/" class="brand">
        telemetryd
      </Link>
      <nav aria-label="Pages">
        <ul>
          {visible.map((p) => (
            <li key={p.href}>
              <Link href={p.href} aria-current={current(p.href, path) ? 'page' : undefined}>
                {p.label}
              </Link>
            </li>
          ))}
          <li>
            <a href="/graphiql">GraphiQL</a>
          </li>
        </ul>
      </nav>
      <div class="who">
        <span aria-label="Signed in as">{session.account.username}</span>
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
