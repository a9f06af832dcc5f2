-- Large age files (documents uploaded later) stored in pieces of 256 KiB, written while
-- the upload streams in, so that the broker never holds a whole document. The pieces are
-- ciphertext; concatenated in order they are the field's age file. Pieces of an upload that
-- did not complete are deleted when it fails, or at the next start after a day.

ALTER TABLE sealed_fields ADD COLUMN chunked BIGINT NOT NULL DEFAULT 0;

CREATE TABLE sealed_chunks (
    sealed_field_id TEXT NOT NULL,
    n               BIGINT NOT NULL,
    body            BYTEA NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (sealed_field_id, n)
);
