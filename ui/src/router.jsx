// A small router over the History API: the location is the state, so
// back/forward and shared links work; Link and navigate change it.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

function current() {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Goes to `to` (a path with an optional query) without reloading. */
export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  listeners.forEach((fn) => fn(current()));
}

addEventListener('popstate', () => listeners.forEach((fn) => fn(current())));

/** The current {path, query}, re-rendering on every change. */
export function useLocation() {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    listeners.add(setLoc);
    return () => listeners.delete(setLoc);
  }, []);
  return loc;
}

/** An ordinary link that navigates in place; modified clicks open as usual. */
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** Builds path?query from an object, leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null && !(Array.isArray(v) && !v.length)));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
