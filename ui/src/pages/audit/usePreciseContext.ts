import { useMemo } from "react";
import { makeFetch } from "../../lib/client";
import { useSession } from "../../lib/session";
import { preciseFetch } from "./preciseJson";

/**
 * urql operation context whose answers keep 64-bit integers in JSON payloads
 * exact (as strings), with the client's handling of refused keys. Pass it as
 * `context` to `useQuery`.
 */
export function usePreciseContext() {
  const { signOut } = useSession();
  return useMemo(
    () => ({ fetch: preciseFetch(makeFetch(() => signOut())) }),
    [signOut],
  );
}
