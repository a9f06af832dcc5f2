// The browser's derivation gives what src/auth.rs (PersonSecrets) gives for the same person:
// the values below are written out in both tests.
import assert from "node:assert/strict";
import { test } from "node:test";
import { identityToRecipient } from "age-encryption";
import { derivePerson } from "../../src/person.ts";

test("a password becomes the login credential and the identity the Rust side derives", async () => {
  const secrets = await derivePerson("j.jansen", "correct horse battery");
  assert.equal(secrets.login, "puTyAIJc66gQK3LXwi_iIHICenEkwclwfuUoEed7guw");
  assert.equal(
    await identityToRecipient(secrets.identity),
    "age188zyk86ywfv2wspn4e7a8lx3w8rs6urywclmtn268t7njegzmefscqavxs",
  );
  const other = await derivePerson("p.pietersen", "correct horse battery");
  assert.notEqual(other.login, secrets.login);
  assert.notEqual(other.identity, secrets.identity);
});
