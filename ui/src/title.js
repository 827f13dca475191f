import { useEffect } from 'preact/hooks';

/** Sets the document title to "page · telemetryd". */
export function useTitle(page) {
  useEffect(() => {
    document.title = `${page} · telemetryd`;
  }, [page]);
}
