import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { effectivePermissions } from '../permissions.js';
import { navigate, useLocation, withQuery } from '../router.jsx';
import { Session } from '../session.js';
import { ErrorNotice } from './ErrorNotice.jsx';
import { Header } from './Header.jsx';
import { Loading } from './Loading.jsx';
import { Routes } from './Routes.jsx';
import { SignInPage } from './SignInPage.jsx';

async function loadSession() {
  const account = await api.me();
  const permissions = effectivePermissions(account, api.tokenRoles());
  return { account, permissions, can: (p) => permissions.has(p) };
}

// signInPath is the sign-in page remembering where the caller was.
function signInPath() {
  const here = location.pathname + location.search;
  return here.startsWith('/signin') ? here : withQuery('/signin', { next: here === '/' ? '' : here });
}

/** The console: resumes the session through the refresh cookie, else asks to sign in. */
export function App() {
  const [session, setSession] = useState(undefined); // undefined: still finding out; null: signed out
  const [error, setError] = useState(null);
  const loc = useLocation();

  useEffect(() => {
    api.whenSessionEnds(() => {
      setSession(null);
      navigate(signInPath(), { replace: true });
    });
    api
      .resumeSession()
      .then((alive) => (alive ? loadSession() : null))
      .then(setSession, setError);
  }, []);

  useEffect(() => {
    if (session === null && loc.path !== '/signin') navigate(signInPath(), { replace: true });
  }, [session, loc.path]);

  // After moving to another page, start reading it from the top, as a
  // page load would: keyboard and screen-reader users land on its content.
  // This runs as the page is drawn, before anyone can reach its fields,
  // and never takes the focus from a field of the page already chosen:
  // a fast typist's keys must not go astray.
  const firstPage = useRef(true);
  useLayoutEffect(() => {
    if (firstPage.current || !session) {
      firstPage.current = false;
      return; // the sign-in page focuses its first field itself
    }
    scrollTo(0, 0);
    const main = document.getElementById('main');
    if (main && !main.contains(document.activeElement)) main.focus();
  }, [loc.path]);

  if (error) {
    return (
      <main id="main" class="narrow">
        <ErrorNotice error={error} />
      </main>
    );
  }
  if (session === undefined) return <Loading what="your session" />;
  if (session === null) {
    const signedIn = async () => {
      setSession(await loadSession());
      navigate(loc.query.get('next') || '/', { replace: true });
    };
    return <SignInPage onSignedIn={signedIn} />;
  }

  const signOut = async () => {
    await api.signOut();
    setSession(null);
    navigate('/signin', { replace: true });
  };
  return (
    <Session.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header onSignOut={signOut} path={loc.path} />
      <main id="main" tabIndex={-1}>
        <Routes loc={loc} />
      </main>
    </Session.Provider>
  );
}
