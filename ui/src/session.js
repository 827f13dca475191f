import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** The signed-in caller: {account, permissions: Set, can(permission)}. */
export const Session = createContext(null);

export function useSession() {
  return useContext(Session);
}
