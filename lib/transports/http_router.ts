/**
 * The route table of the HTTP listener and a small matcher: a route is a
 * method plus a path pattern with `{name}` segments; a path that matches
 * another method's route gives the `Allow` list for a 405.
 * @module
 */

/** The name of each route, as it appears in logs, metrics and the OpenAPI document. */
export type RouteName =
  | "ask"
  | "listConversations"
  | "getConversation"
  | "getMessages"
  | "renameConversation"
  | "deleteConversation"
  | "healthz"
  | "metrics"
  | "openapi"
  | "docs";

/** One route. */
export interface Route {
  name: RouteName;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** The path pattern, with `{param}` segments, as written in the OpenAPI document. */
  pattern: string;
  /** Whether the route is served without a client token. */
  open: boolean;
}

/** Every route but the OpenAI-compatible ones under `/v1/`. */
export const ROUTES: readonly Route[] = [
  { name: "ask", method: "POST", pattern: "/ask", open: false },
  { name: "ask", method: "POST", pattern: "/ask/{conversation_id}", open: false },
  { name: "listConversations", method: "GET", pattern: "/conversations", open: false },
  { name: "getConversation", method: "GET", pattern: "/conversations/{id}", open: false },
  { name: "renameConversation", method: "PATCH", pattern: "/conversations/{id}", open: false },
  { name: "deleteConversation", method: "DELETE", pattern: "/conversations/{id}", open: false },
  { name: "getMessages", method: "GET", pattern: "/conversations/{id}/messages", open: false },
  { name: "healthz", method: "GET", pattern: "/healthz", open: true },
  { name: "metrics", method: "GET", pattern: "/metrics", open: true },
  { name: "openapi", method: "GET", pattern: "/openapi.json", open: true },
  { name: "docs", method: "GET", pattern: "/docs", open: true },
];

/** The result of {@link matchRoute}. */
export type RouteMatch =
  | { kind: "found"; route: Route; params: Record<string, string> }
  | {
    kind: "method";
    allow: string[];
    /** The path pattern that matched, for logs and metrics. */
    pattern: string;
  }
  | { kind: "none" };

function matchPattern(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (w.startsWith("{") && w.endsWith("}")) {
      let value: string;
      try {
        value = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
      params[w.slice(1, -1)] = value;
    } else if (w !== got[i]) {
      return null;
    }
  }
  return params;
}

/**
 * Finds the route of a request. `HEAD` is served as `GET`. A trailing slash
 * is ignored (`/ask/` is `/ask`).
 * @param method the request method
 * @param path the URL path
 */
export function matchRoute(method: string, path: string): RouteMatch {
  const p = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const m = method === "HEAD" ? "GET" : method;
  const allow = new Set<string>();
  let pattern = "";
  for (const route of ROUTES) {
    const params = matchPattern(route.pattern, p);
    if (params === null) continue;
    if (route.method === m) return { kind: "found", route, params };
    allow.add(route.method);
    pattern = route.pattern;
  }
  if (allow.size === 0) return { kind: "none" };
  if (allow.has("GET")) allow.add("HEAD");
  allow.add("OPTIONS");
  return { kind: "method", allow: [...allow], pattern };
}
