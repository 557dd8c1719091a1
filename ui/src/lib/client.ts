import { createClient as createWsClient } from "graphql-ws";
import {
  Client,
  cacheExchange,
  fetchExchange,
  stringifyDocument,
  subscriptionExchange,
  type TypedDocumentNode,
} from "urql";
import { AUTH_CODES, restBodyToGraphQL } from "./errors";
import { createSocketStore, registerSocketStore } from "./socketState";

export { toAppError, isAuthError, type AppError } from "./errors";
export { useSocketState, type SocketState } from "./socketState";

/** POST endpoint of the API. */
export const GRAPHQL_PATH = "/graphql";
/** WebSocket endpoint (graphql-transport-ws). */
export const GRAPHQL_WS_PATH = "/graphql";

/**
 * A fetch that rewrites the key layer's REST-shaped 401/429 bodies into
 * GraphQL errors and reports refused keys to `onAuthFailure`.
 */
export function makeFetch(onAuthFailure: (code: string) => void): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (res.ok) return res;
    let body: unknown;
    try {
      body = await res.clone().json();
    } catch {
      return res;
    }
    const rewritten = restBodyToGraphQL(
      body,
      res.status,
      res.headers.get("retry-after"),
    );
    const code = rewritten
      ? String(rewritten.errors[0].extensions?.code)
      : firstCode(body);
    if (res.status === 401 && code && AUTH_CODES.has(code)) onAuthFailure(code);
    if (!rewritten) return res;
    return new Response(JSON.stringify(rewritten), {
      status: res.status,
      statusText: res.statusText,
      headers: { "content-type": "application/json" },
    });
  };
}

function firstCode(body: unknown): string | null {
  const errors = (body as { errors?: { extensions?: { code?: unknown } }[] })
    ?.errors;
  const code = errors?.[0]?.extensions?.code;
  return typeof code === "string" ? code : null;
}

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}${GRAPHQL_WS_PATH}`;
}

/**
 * The urql client for one API key: HTTP for queries and mutations, WebSocket
 * for subscriptions. The WebSocket's state is read with `useSocketState()`.
 */
export function createClient(
  key: string,
  onAuthFailure: (code: string) => void,
): Client {
  const socket = createSocketStore();
  const ws = createWsClient({
    url: wsUrl(),
    lazy: true,
    connectionParams: { Authorization: `Bearer ${key}` },
    on: {
      connecting: socket.on.connecting,
      connected: socket.on.connected,
      closed: (event) => {
        socket.on.closed(event);
        const reason = (event as CloseEvent | undefined)?.reason ?? "";
        const code = reason.split(":")[0];
        if (AUTH_CODES.has(code)) onAuthFailure(code);
      },
    },
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    fetch: makeFetch(onAuthFailure),
    fetchOptions: () => ({ headers: { authorization: `Bearer ${key}` } }),
    requestPolicy: "cache-and-network",
    preferGetMethod: false,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  registerSocketStore(client, socket);
  return client;
}

/** Runs one GraphQL request outside urql (used to validate a key at sign-in). */
export async function rawRequest<T>(
  key: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query: string | TypedDocumentNode<T, any>,
  variables?: Record<string, unknown>,
): Promise<{
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}> {
  const res = await makeFetch(() => {})(GRAPHQL_PATH, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query: stringifyDocument(query), variables }),
  });
  try {
    return (await res.json()) as {
      data?: T;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
  } catch {
    return {
      errors: [
        {
          message: `HTTP ${res.status}`,
          extensions: { code: "network_error" },
        },
      ],
    };
  }
}
