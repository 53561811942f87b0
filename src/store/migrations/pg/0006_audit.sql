-- SPDX-License-Identifier: MIT
-- The audit log (PostgreSQL). Keep the shape equal to sqlite/0006_audit.sql.
-- docs/internals/audit.md says what is chained and how. workphone only ever inserts rows.
-- Each tenant's rows form a chain: seq 1, 2, 3, ..., each row carrying the keyed BLAKE2b of
-- its fields and of the previous row's hash (prev_hash; 64 zeros for seq 1). details is kept
-- as the exact text that was hashed, so it is TEXT and not a JSON type.
CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    seq BIGINT NOT NULL CHECK (seq > 0),
    id TEXT NOT NULL,
    ts_us BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL,
    client TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor, seq);
CREATE INDEX audit_log_target ON audit_log (tenant_id, target, seq);

-- The head of each tenant's chain: the last seq and its hash. An append moves it first with
-- UPDATE ... RETURNING, which holds the row's lock until the transaction ends, so appends of
-- one tenant are serialized across server nodes; verify also learns from it whether rows were
-- removed from the end.
CREATE TABLE audit_heads (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq BIGINT NOT NULL CHECK (seq >= 0),
    hash TEXT NOT NULL
);
