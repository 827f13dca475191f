import { useCallback, useEffect, useState } from 'preact/hooks';

/**
 * Runs load() whenever deps change and keeps {loading, error, value};
 * reload() runs it again. Answers of superseded runs are dropped.
 */
export function useAsync(load, deps) {
  const [state, setState] = useState({ loading: true, error: null, value: undefined });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    load().then(
      (value) => live && setState({ loading: false, error: null, value }),
      (error) => live && setState({ loading: false, error, value: undefined }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
