-- SPDX-License-Identifier: MIT
-- The audit log's end made tamper-evident, and thresholds for insider alerts (sqlite; keep the
-- shape equal to pg/0016_audit_seal.sql). docs/internals/audit.md has the design.

-- Rows appended from now on use encoding 2 (its own domain text in the keyed hash), so a chain
-- that holds one is known to have been written with the records below; rows before stay 1.
ALTER TABLE audit_log ADD COLUMN format INTEGER NOT NULL DEFAULT 1 CHECK (format IN (1, 2));

-- The head's MAC: the keyed BLAKE2b of (tenant, seq, hash). NULL on a head last moved before
-- this migration.
ALTER TABLE audit_heads ADD COLUMN mac TEXT;

-- The chain's length, kept in the tenant's own row and moved in the append's transaction: the
-- last seq, its hash and their keyed MAC. Removing it means editing the tenant itself; a
-- tenant with a record and fewer rows has lost rows. NULL until the first append after this
-- migration.
ALTER TABLE tenants ADD COLUMN audit_seq INTEGER;
ALTER TABLE tenants ADD COLUMN audit_hash TEXT;
ALTER TABLE tenants ADD COLUMN audit_mac TEXT;

-- Insider alerts: how many unmaskings per hour and exports per day one employee may make
-- before the admins get an alert (0: never). No row: the defaults (WP_INSIDER_*_DEFAULT).
CREATE TABLE insider_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    unmask_per_hour INTEGER NOT NULL CHECK (unmask_per_hour >= 0),
    export_per_day INTEGER NOT NULL CHECK (export_per_day >= 0),
    updated_us INTEGER NOT NULL
) STRICT;

-- Counting an employee's unmaskings and exports in a window, on the rows that can count only.
CREATE INDEX audit_log_insider ON audit_log (tenant_id, actor, action, ts_us)
    WHERE action IN ('customer.unmask', 'message.unmask', 'handover.export', 'media.download');
