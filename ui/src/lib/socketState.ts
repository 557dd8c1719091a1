import { useSyncExternalStore } from "react";
import { useClient, type Client } from "urql";

/**
 * The state of the client's subscription WebSocket (graphql-ws): `connecting`
 * (opening, or retrying after a drop), `connected` (acknowledged), `closed`
 * (not open: none yet, idle — it opens lazily — or dropped). `reconnects`
 * counts the connections made after one was lost, whether graphql-ws retried
 * on its own or a subscriber subscribed again; a close the client asked for
 * (idle, sign-out) is not a loss.
 */
export interface SocketState {
  status: "connecting" | "connected" | "closed";
  reconnects: number;
}

export interface SocketStore {
  /** The current state; a new object on every change. */
  get: () => SocketState;
  subscribe: (listener: () => void) => () => void;
  /** graphql-ws's `on` listeners that feed it. */
  on: {
    connecting: () => void;
    connected: () => void;
    closed: (event: unknown) => void;
  };
}

/** Close codes the client itself uses for a normal, asked-for close. */
const NORMAL_CLOSE = 1000;

export function createSocketStore(): SocketStore {
  let state: SocketState = { status: "closed", reconnects: 0 };
  let lost = false;
  const listeners = new Set<() => void>();
  const set = (next: Partial<SocketState>) => {
    state = { ...state, ...next };
    for (const l of listeners) l();
  };
  return {
    get: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    on: {
      connecting: () => set({ status: "connecting" }),
      connected: () => {
        const reconnects = lost ? state.reconnects + 1 : state.reconnects;
        lost = false;
        set({ status: "connected", reconnects });
      },
      closed: (event) => {
        const code = (event as { code?: unknown } | undefined)?.code;
        // A close before any connection (the server unreachable) is a loss
        // only when there was a connection to lose.
        if (state.status === "connected" && code !== NORMAL_CLOSE) lost = true;
        set({ status: "closed" });
      },
    },
  };
}

const stores = new WeakMap<Client, SocketStore>();
const none = createSocketStore();

/** Ties `store` to the urql client whose WebSocket feeds it (see `createClient`). */
export function registerSocketStore(client: Client, store: SocketStore): void {
  stores.set(client, store);
}

/** The state of the current urql client's WebSocket; re-renders when it changes. */
export function useSocketState(): SocketState {
  const store = stores.get(useClient()) ?? none;
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}
