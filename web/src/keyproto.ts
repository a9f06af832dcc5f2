// What the page and the key worker say to each other.

export type KeyRequest =
  | { op: "derive"; username: string; password: string }
  | { op: "preview"; username: string; password: string }
  | { op: "unlock"; wrapped: string }
  | { op: "open"; files: { id: string; age: string }[] }
  | { op: "wrapFor"; recipient: string }
  | { op: "seal"; recipients: string[]; values: { key: string; bytes: Uint8Array }[] }
  | { op: "forget" };

export interface KeyAnswer {
  ok: boolean;
  error?: string;
  login?: string;
  recipient?: string;
  wrapped?: string;
  opened?: Record<string, Uint8Array | null>;
  sealed?: Record<string, string>;
}
