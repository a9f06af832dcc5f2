// The person logged in on this page, in memory only.
import { call, setToken } from "./api.ts";
import { ask, forget } from "./keys.ts";
import type { Policy } from "./policy.ts";

export interface Me {
  user_id: string;
  username: string;
  organisation: string;
  organisation_name: string;
  role: string;
  person: boolean;
  recipient: string | null;
  wrapped_identity: string | null;
}

export const session: {
  policy: Policy | null;
  me: Me | null;
  /** The current password's login credential, until the person chose their own. */
  login: string | null;
  unlocked: boolean;
} = { policy: null, me: null, login: null, unlocked: false };

/** Logs in: the worker stretches the password; the broker sees the login credential only. */
export async function logIn(username: string, password: string): Promise<Me> {
  const derived = await ask({ op: "derive", username, password });
  if (!derived.ok || !derived.login) throw new Error("derive");
  const token = await call<{ access_token: string }>("POST", "/v1/auth/token", {
    username,
    password: derived.login,
  });
  setToken(token.access_token);
  session.login = derived.login;
  session.me = await call<Me>("GET", "/v1/me");
  if (session.me.wrapped_identity && session.me.recipient === derived.recipient) {
    const unlocked = await ask({ op: "unlock", wrapped: session.me.wrapped_identity });
    session.unlocked = unlocked.ok;
  }
  return session.me;
}

/** Forgets everything: the token, the identities, who was logged in. */
export function logOut(): void {
  forget();
  setToken(null);
  session.me = null;
  session.login = null;
  session.unlocked = false;
}
