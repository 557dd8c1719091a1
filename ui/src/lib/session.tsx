import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";
import { Provider as UrqlProvider, type Client } from "urql";
import { graphql } from "../gql";
import type { ViewerQuery } from "../gql/graphql";
import { createClient, rawRequest } from "./client";
import type { AppError } from "./errors";
import { can, type Scope } from "./permissions";

/** The calling API key. */
export type Viewer = ViewerQuery["viewer"];

interface SessionValue {
  key: string;
  viewer: Viewer;
  signOut: () => void;
}

const SessionContext = createContext<SessionValue | null>(null);

const STORAGE_KEY = "ledger.apiKey";

const VIEWER_QUERY = graphql(`
  query Viewer {
    viewer {
      id
      name
      permissions
      rateLimitPerMinute
    }
  }
`);

/** Checks a key with the `viewer` query: the viewer, or why the key was refused. */
export async function validateKey(key: string): Promise<Viewer | AppError> {
  try {
    const res = await rawRequest(key, VIEWER_QUERY);
    if (res.data?.viewer) return res.data.viewer;
    const err = res.errors?.[0];
    const code = String(err?.extensions?.code ?? "error");
    return { code, message: err?.message ?? code };
  } catch (e) {
    return {
      code: "network_error",
      message:
        e instanceof Error ? e.message : "the server could not be reached",
    };
  }
}

function isViewer(v: Viewer | AppError): v is Viewer {
  return "permissions" in v;
}

type State =
  | { kind: "checking" }
  | { kind: "signedOut"; error: AppError | null }
  | { kind: "signedIn"; key: string; viewer: Viewer };

/**
 * Holds the API key (in sessionStorage only) and the viewer. Renders
 * `signIn` until a key is validated, then `children` inside urql's Provider.
 */
export function SessionProvider(props: {
  children: ReactNode;
  signIn: (p: {
    onSubmit: (key: string) => Promise<void>;
    error: AppError | null;
  }) => ReactNode;
  loading: ReactNode;
}) {
  const [state, setState] = useState<State>(() =>
    sessionStorage.getItem(STORAGE_KEY)
      ? { kind: "checking" }
      : { kind: "signedOut", error: null },
  );

  const signOut = useCallback((error: AppError | null = null) => {
    sessionStorage.removeItem(STORAGE_KEY);
    setState({ kind: "signedOut", error });
  }, []);

  const apply = useCallback((key: string, result: Viewer | AppError) => {
    if (isViewer(result)) {
      sessionStorage.setItem(STORAGE_KEY, key);
      setState({ kind: "signedIn", key, viewer: result });
    } else {
      sessionStorage.removeItem(STORAGE_KEY);
      setState({ kind: "signedOut", error: result });
    }
  }, []);

  const signIn = useCallback(
    async (key: string) => {
      const trimmed = key.trim();
      apply(trimmed, await validateKey(trimmed));
    },
    [apply],
  );

  // A key kept from earlier in this tab is checked again on load.
  useEffect(() => {
    if (state.kind !== "checking") return;
    const stored = sessionStorage.getItem(STORAGE_KEY);
    if (stored) validateKey(stored).then((result) => apply(stored, result));
  }, [state.kind, apply]);

  const key = state.kind === "signedIn" ? state.key : null;
  const client: Client | null = useMemo(
    () =>
      key
        ? createClient(key, (code) =>
            signOut({
              code,
              message: "The API key was refused; sign in again.",
            }),
          )
        : null,
    [key, signOut],
  );

  const value = useMemo<SessionValue | null>(
    () =>
      state.kind === "signedIn"
        ? { key: state.key, viewer: state.viewer, signOut: () => signOut(null) }
        : null,
    [state, signOut],
  );

  if (state.kind === "checking") return <>{props.loading}</>;
  if (state.kind === "signedOut" || !value || !client) {
    return (
      <>
        {props.signIn({
          onSubmit: signIn,
          error: state.kind === "signedOut" ? state.error : null,
        })}
      </>
    );
  }
  return (
    <SessionContext.Provider value={value}>
      <UrqlProvider value={client}>{props.children}</UrqlProvider>
    </SessionContext.Provider>
  );
}

/** The signed-in key and viewer. Only inside SessionProvider's children. */
export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error("useSession outside a signed-in SessionProvider");
  return v;
}

/** Whether the signed-in key holds every given scope (`admin` holds all). */
export function useCan(...scopes: Scope[]): boolean {
  const { viewer } = useSession();
  return can(viewer.permissions, ...scopes);
}
