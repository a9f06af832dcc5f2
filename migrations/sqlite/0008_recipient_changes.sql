-- When an organisation's recipient (age public key) last changed, and for each copy of a sealed
-- field the recipient change it was sealed under: a rekey is allowed only for copies sealed
-- before the organisation's latest change (a copy already under the current key is left alone).
ALTER TABLE organisations ADD COLUMN recipient_set_at TEXT;
ALTER TABLE sealed_field_recipients ADD COLUMN key_set_at TEXT;
