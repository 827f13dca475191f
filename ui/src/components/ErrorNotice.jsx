import { Link } from '../router.jsx';

// What to do about an error, by its code.
const advice = {
  FORBIDDEN: 'Your roles do not allow this. Ask an administrator for the permission it names.',
  UNAVAILABLE: 'The store cannot be reached right now. Try again in a moment.',
  TOO_MANY_REQUESTS: 'Too many attempts. Wait a minute, then try again.',
  BAD_USER_INPUT: 'Correct the value it names, then try again.',
};

/** An error, said plainly, with what to do about it; `retry` offers to try again. */
export function ErrorNotice({ error, retry }) {
  const tip = advice[error.code] ?? (error.status >= 500 ? 'The server failed. Try again; if it persists, see its log.' : '');
  return (
    <div class="error" role="alert">
      <p>
        <strong>{error.message}</strong>
      </p>
      {tip && <p>{tip}</p>}
      {error.code === 'NOT_FOUND' && (
        <p>
          <Link href="/snapshots">Back to snapshots</Link>
        </p>
      )}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
