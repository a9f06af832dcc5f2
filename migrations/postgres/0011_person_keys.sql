-- A person's own age recipient (derived in their browser, or by `sluis user add`, from their
-- password: src/auth.rs PersonSecrets, web/src/person.ts) and the organisation's identity
-- wrapped for them: the identity file age-encrypted to that recipient, by a member who holds
-- the identity (or the operator with the identity file). The broker can open none of them: the
-- key that unwraps is derived from the password in the client, and the broker only ever sees
-- the login credential, an independent output of the same derivation.

CREATE TABLE person_keys (
    user_id     TEXT PRIMARY KEY REFERENCES users(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    recipient   TEXT NOT NULL,
    wrapped     TEXT,
    wrapped_by  TEXT,
    updated_at  TEXT NOT NULL
);
CREATE INDEX person_keys_by_org ON person_keys(org_id);
