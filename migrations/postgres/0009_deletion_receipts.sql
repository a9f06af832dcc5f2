-- The signed deletion receipts of purges and erasure requests, kept after the case's age files
-- are gone so that the care organisation can hand them to the client. A receipt names the case,
-- the field ids, the rule and the time; never a value. Append-only.

CREATE TABLE deletion_receipts (
    case_id  TEXT NOT NULL,
    time     TEXT NOT NULL,
    note     TEXT NOT NULL,
    PRIMARY KEY (case_id, time)
);
CREATE TRIGGER deletion_receipts_append_only BEFORE UPDATE OR DELETE ON deletion_receipts
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER deletion_receipts_no_truncate BEFORE TRUNCATE ON deletion_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION sluis_append_only();
