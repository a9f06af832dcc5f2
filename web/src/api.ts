// Talking to the broker: the access token in memory only, problems (RFC 9457) as errors.

let token: string | null = null;

/** A problem answer: status, what is wrong and, for invalid fields, each field. */
export class Problem extends Error {
  constructor(
    public status: number,
    public detail: string,
    public errors: { field: string; problem: string }[] = [],
  ) {
    super(detail);
  }
}

/** Sets (or with null forgets) the access token. */
export function setToken(value: string | null): void {
  token = value;
}

/** Whether a token is held. */
export function loggedIn(): boolean {
  return token !== null;
}

/** A document that is not JSON (an SVG chart, a CSV export) as a Blob. */
export async function callBlob(path: string): Promise<Blob> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { headers, credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new Problem(response.status, response.statusText);
  return response.blob();
}

/** Uploads a document as raw bytes (a sealing endpoint); the answer as JSON. */
export async function upload<T>(path: string, bytes: Uint8Array): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", "content-type": "application/octet-stream" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: "PUT", headers, body: new Uint8Array(bytes), credentials: "omit", cache: "no-store" });
  const json = await response.json().catch(() => undefined);
  if (!response.ok) throw new Problem(response.status, json?.detail ?? response.statusText, json?.errors ?? []);
  return json as T;
}

/** One request; JSON in and out. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    throw new Problem(response.status, json?.detail ?? response.statusText, json?.errors ?? []);
  }
  return json as T;
}
