import { useState } from 'preact/hooks';

/**
 * Runs a change the user asked for: act(fn, done) clears the last outcome,
 * awaits fn(), then shows done as the message and calls onChange, or
 * keeps the error to show.
 */
export function useAction(onChange) {
  const [error, setError] = useState(null);
  const [message, setMessage] = useState('');
  const act = async (fn, done) => {
    setError(null);
    setMessage('');
    try {
      await fn();
      setMessage(done);
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  return { act, error, message };
}
