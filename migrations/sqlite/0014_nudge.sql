-- The e-mail nudge: the address an organisation is nudged at (its functional mailbox, set by
-- the admin; no person's address is needed) and when it was nudged last, so that one e-mail
-- covers everything new since.
ALTER TABLE organisations ADD COLUMN nudge_email TEXT;
ALTER TABLE organisations ADD COLUMN nudged_at TEXT;
