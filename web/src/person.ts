// What one password of a person becomes here in the browser (src/auth.rs, PersonSecrets, derives
// the same for the command line): the login credential, the only thing sent to the broker, and
// the person's own age identity, which unwraps the organisation's identity and never leaves the
// page. scrypt (N=2^15, r=8, p=1) over the password salted with the login name, then two
// independent HKDF-SHA256 outputs.
import { hkdf } from "@noble/hashes/hkdf.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64urlnopad, bech32 } from "@scure/base";

/** The salt prefix; the login name follows it. */
export const PERSON_SALT = "sluis-person-v1:";

/** A person's login credential and own age identity (`AGE-SECRET-KEY-1…`). */
export interface PersonSecrets {
  login: string;
  identity: string;
}

/** Stretches `password` of the person who logs in as `username`. */
export async function derivePerson(username: string, password: string): Promise<PersonSecrets> {
  const text = new TextEncoder();
  const stretched = await scryptAsync(text.encode(password), text.encode(PERSON_SALT + username), {
    N: 2 ** 15,
    r: 8,
    p: 1,
    dkLen: 32,
  });
  const none = new Uint8Array(0);
  const login = hkdf(sha256, stretched, none, text.encode("sluis login v1"), 32);
  const seed = hkdf(sha256, stretched, none, text.encode("sluis unwrap v1"), 32);
  stretched.fill(0);
  const identity = bech32.encode("age-secret-key-", bech32.toWords(seed), false).toUpperCase();
  seed.fill(0);
  return { login: base64urlnopad.encode(login), identity };
}
