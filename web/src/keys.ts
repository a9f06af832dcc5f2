// The page's side of the key worker: requests, and forgetting — on logout, after 15 minutes
// without use, and with the tab (the worker dies with it).
import type { KeyAnswer, KeyRequest } from "./keyproto.ts";

const IDLE_MS = 15 * 60 * 1000;

let worker: Worker | null = null;
let next = 0;
const waiting = new Map<number, (a: KeyAnswer) => void>();
let idle: ReturnType<typeof setTimeout> | undefined;
let onForget: () => void = () => {};

function start(): Worker {
  if (worker) return worker;
  worker = new Worker("/assets/worker.js", { type: "module" });
  worker.onmessage = (event: MessageEvent<{ id: number; result: KeyAnswer }>) => {
    waiting.get(event.data.id)?.(event.data.result);
    waiting.delete(event.data.id);
  };
  return worker;
}

/** Asks the worker; counts as use. */
export function ask(req: KeyRequest): Promise<KeyAnswer> {
  touch();
  const id = next++;
  const w = start();
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    w.postMessage({ id, req });
  });
}

/** Activity: the idle time starts again. */
export function touch(): void {
  if (!worker) return;
  clearTimeout(idle);
  idle = setTimeout(() => forget(true), IDLE_MS);
}

/** Calls `callback` when the identity is forgotten because of idleness. */
export function whenForgotten(callback: () => void): void {
  onForget = callback;
}

/** Forgets both identities: the worker and its memory are gone. */
export function forget(becauseIdle = false): void {
  clearTimeout(idle);
  worker?.terminate();
  worker = null;
  for (const resolve of waiting.values()) resolve({ ok: false, error: "locked" });
  waiting.clear();
  if (becauseIdle) onForget();
}
