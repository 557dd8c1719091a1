import { useMemo } from "react";
import { makeFetch } from "./client";
import { useSession } from "./session";
import { losslessFetch } from "./losslessJson";

/**
 * urql operation context whose answers keep 64-bit integers inside JSON
 * values (event payloads, the log's payloads) exact, as strings; a refused key
 * still signs out. Pass it as `context` to `useQuery`.
 */
export function useLosslessContext() {
  const { signOut } = useSession();
  return useMemo(
    () => ({ fetch: losslessFetch(makeFetch(() => signOut())) }),
    [signOut],
  );
}
