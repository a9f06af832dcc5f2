// Checking the access log in the browser, not on the server's word: a C2SP signed note (the
// checkpoint) against the log's verifier key (Ed25519), an event's leaf hash from its
// canonical encoding (src/audit/mod.rs), and an RFC 9162 inclusion proof of that leaf in the
// checkpoint's tree.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64 } from "@scure/base";

const text = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A note verifier key (`<name>+<hex key id>+<base64(0x01 ‖ key)>`), if well formed. */
export interface VerifierKey {
  name: string;
  id: Uint8Array;
  key: Uint8Array;
}

export function parseVkey(vkey: string): VerifierKey | null {
  const [name, id, data] = splitVkey(vkey.trim());
  if (!name || !id || !data) return null;
  const body = base64.decode(data);
  if (body.length !== 33 || body[0] !== 1) return null;
  const key = body.slice(1);
  const expect = sha256(concat(text.encode(`${name}\n`), new Uint8Array([1]), key)).slice(0, 4);
  return hex(expect) === id ? { name, id: expect, key } : null;
}

/** The name holds no `+`; the base64 key data may. */
function splitVkey(v: string): string[] {
  const a = v.indexOf("+");
  const b = v.indexOf("+", a + 1);
  return a > 0 && b > a ? [v.slice(0, a), v.slice(a + 1, b), v.slice(b + 1)] : [];
}

/** The body of a signed note whose signature by `key` verifies, else null. */
export function openNote(note: string, key: VerifierKey): string | null {
  // `<body>\n— <name> <signature>\n`: the body ends with its own newline, then a blank line.
  const at = note.lastIndexOf("\n\u2014 ");
  if (at < 0) return null;
  const body = note.slice(0, at);
  const [name, sig] = note.slice(at + 3).trim().split(" ");
  if (name !== key.name || !sig) return null;
  const raw = base64.decode(sig);
  if (raw.length !== 68 || hex(raw.slice(0, 4)) !== hex(key.id)) return null;
  try {
    return ed25519.verify(raw.slice(4), text.encode(body), key.key) ? body : null;
  } catch {
    return null;
  }
}

/** A checkpoint's size and root, from its verified body. */
export function checkpointOf(body: string): { origin: string; size: number; root: Uint8Array } | null {
  const [origin, size, root] = body.split("\n");
  if (!origin || !size || !root) return null;
  return { origin, size: Number(size), root: base64.decode(root) };
}

/** SHA-256(0x00 ‖ canonical encoding): the event as compact JSON, keys in the log's order. */
export function leafHash(event: Record<string, unknown>): Uint8Array {
  return sha256(concat(new Uint8Array([0]), text.encode(JSON.stringify(event))));
}

const node = (l: Uint8Array, r: Uint8Array) => sha256(concat(new Uint8Array([1]), l, r));

/** RFC 9162 §2.1.3.2: whether `proof` (hex) proves leaf `index` in the tree of `size` with `root`. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: string[], root: Uint8Array): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof.map(unhex)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hex(r) === hex(root);
}
