// The key worker: the only place the person's own identity and the organisation's identity
// live, in this worker's memory alone (no storage of any kind). The page asks it to derive the
// login credential, to unwrap the organisation's identity, to open age files and to seal; it
// never hands an identity out. Terminating the worker forgets both.
import { base64 } from "@scure/base";
import { Decrypter, Encrypter, identityToRecipient } from "age-encryption";
import { derivePerson } from "./person.ts";
import type { KeyRequest, KeyAnswer } from "./keyproto.ts";

let own: string | null = null;
let organisation: string | null = null;

async function answer(req: KeyRequest): Promise<KeyAnswer> {
  switch (req.op) {
    case "derive": {
      const secrets = await derivePerson(req.username, req.password);
      own = secrets.identity;
      return { ok: true, login: secrets.login, recipient: await identityToRecipient(own) };
    }
    case "preview": {
      // A new password's credential and recipient, without replacing the current identity.
      const secrets = await derivePerson(req.username, req.password);
      const recipient = await identityToRecipient(secrets.identity);
      let wrapped: string | undefined;
      if (organisation) wrapped = await seal([recipient], new TextEncoder().encode(organisation));
      return { ok: true, login: secrets.login, recipient, wrapped };
    }
    case "unlock": {
      if (!own) return { ok: false, error: "locked" };
      const d = new Decrypter();
      d.addIdentity(own);
      const text = await d.decrypt(base64.decode(req.wrapped), "text");
      const line = text.split("\n").map((l) => l.trim()).find((l) => l.startsWith("AGE-SECRET-KEY-1"));
      if (!line) return { ok: false, error: "not an identity" };
      organisation = line;
      return { ok: true, recipient: await identityToRecipient(organisation) };
    }
    case "open": {
      if (!organisation) return { ok: false, error: "locked" };
      const d = new Decrypter();
      d.addIdentity(organisation);
      const opened: Record<string, Uint8Array | null> = {};
      for (const f of req.files) {
        try {
          opened[f.id] = await d.decrypt(base64.decode(f.age), "uint8array");
        } catch {
          opened[f.id] = null;
        }
      }
      return { ok: true, opened };
    }
    case "wrapFor": {
      if (!organisation) return { ok: false, error: "locked" };
      return { ok: true, wrapped: await seal([req.recipient], new TextEncoder().encode(organisation)) };
    }
    case "seal": {
      if (!organisation) return { ok: false, error: "locked" };
      const sealed: Record<string, string> = {};
      for (const v of req.values) sealed[v.key] = await seal(req.recipients, v.bytes);
      return { ok: true, sealed };
    }
    case "forget":
      own = null;
      organisation = null;
      return { ok: true };
  }
}

async function seal(recipients: string[], bytes: Uint8Array): Promise<string> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return base64.encode(await e.encrypt(bytes));
}

self.onmessage = async (event: MessageEvent<{ id: number; req: KeyRequest }>) => {
  const { id, req } = event.data;
  let result: KeyAnswer;
  try {
    result = await answer(req);
  } catch {
    // Never the error's text: it could name what was being opened.
    result = { ok: false, error: "failed" };
  }
  (self as unknown as Worker).postMessage({ id, result });
};
