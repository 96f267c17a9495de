// The API client: typed documents over fetch (same origin), subscriptions over graphql-ws.
import { createClient, type Client } from "graphql-ws";
import type { TypedDocumentString } from "./gql/graphql";
import { graphql } from "./gql";

export class ApiError extends Error {
  constructor(message: string, readonly code: string, readonly extensions: Record<string, any>) {
    super(message);
  }
}

/** What to show for a failed call: the API's message, else the error as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Session { accessToken: string; refreshToken: string; email: string }
const KEY = "botbuilder.session";

export function session(): Session | null {
  const raw = localStorage.getItem(KEY);
  return raw ? (JSON.parse(raw) as Session) : null;
}

export function saveSession(value: Session | null): void {
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  wsClient?.dispose();
  wsClient = null;
  listeners.forEach((listener) => listener());
}

const listeners = new Set<() => void>();
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const Refresh = graphql(`
  mutation Refresh($token: String!) { refreshTokens(refreshToken: $token) { accessToken refreshToken } }
`);

async function post<R, V>(doc: TypedDocumentString<R, V>, variables: V, token?: string): Promise<R> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: doc.toString(), variables }),
  });
  const body = await response.json();
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR", first.extensions ?? {});
  }
  return body.data as R;
}

/** Run a query or mutation as the signed-in user, refreshing the access token once if it expired. */
export async function gql<R, V>(doc: TypedDocumentString<R, V>, variables: V): Promise<R> {
  const current = session();
  try {
    return await post(doc, variables, current?.accessToken);
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "UNAUTHENTICATED" && current)) throw error;
    try {
      const fresh = (await post(Refresh, { token: current.refreshToken })).refreshTokens;
      saveSession({ ...current, ...fresh });
    } catch {
      saveSession(null);
      throw error;
    }
    return post(doc, variables, session()?.accessToken);
  }
}

let wsClient: Client | null = null;

/** Subscribe over graphql-transport-ws; returns the unsubscribe function. */
export function subscribe<R, V>(doc: TypedDocumentString<R, V>, variables: V, next: (data: R) => void): () => void {
  if (!wsClient) {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    wsClient = createClient({
      url,
      connectionParams: () => ({ Authorization: `Bearer ${session()?.accessToken ?? ""}` }),
      retryAttempts: 5,
    });
  }
  return wsClient.subscribe(
    { query: doc.toString(), variables: variables as Record<string, unknown> },
    { next: (value) => value.data && next(value.data as R), error: () => undefined, complete: () => undefined },
  );
}
