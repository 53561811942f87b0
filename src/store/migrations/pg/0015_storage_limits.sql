-- SPDX-License-Identifier: MIT
-- Issue 13: bounded quarantine rows and per-tenant storage limits. Keep the shape equal to
-- sqlite/0015_storage_limits.sql.

-- A rejected event is kept as its first 4 KiB (raw, cut on a character), with the length and
-- the SHA-256 (hex) of the whole event as received. Rows kept before this migration hold the
-- whole event in raw and NULL here.
ALTER TABLE quarantine ADD COLUMN raw_len BIGINT;
ALTER TABLE quarantine ADD COLUMN raw_sha256 TEXT;

-- What each tenant stores, counted in the transactions that write it (so every node agrees),
-- and its limits (NULL: the default). archive_bytes: the raw JSON of its stored messages,
-- calls, contact events and locations plus the messages' texts; media_bytes: the sizes of its
-- media files; quarantine_bytes: the raw slices kept for its rejected events. A tenant without
-- a row has used nothing and has the default limits.
CREATE TABLE tenant_usage (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    archive_bytes BIGINT NOT NULL DEFAULT 0,
    media_bytes BIGINT NOT NULL DEFAULT 0,
    quarantine_bytes BIGINT NOT NULL DEFAULT 0,
    archive_limit BIGINT CHECK (archive_limit >= 0),
    media_limit BIGINT CHECK (media_limit >= 0),
    quarantine_limit BIGINT CHECK (quarantine_limit >= 0)
);

-- what is stored already counts
INSERT INTO tenant_usage (tenant_id, archive_bytes, media_bytes, quarantine_bytes)
SELECT t.id,
    (SELECT coalesce(sum(octet_length(raw) + coalesce(octet_length(text), 0)), 0)
       FROM messages WHERE tenant_id = t.id)
    + (SELECT coalesce(sum(octet_length(raw)), 0) FROM calls WHERE tenant_id = t.id)
    + (SELECT coalesce(sum(octet_length(raw)), 0) FROM contact_events WHERE tenant_id = t.id)
    + (SELECT coalesce(sum(octet_length(raw)), 0) FROM locations WHERE tenant_id = t.id),
    (SELECT coalesce(sum(size), 0) FROM media WHERE tenant_id = t.id),
    (SELECT coalesce(sum(octet_length(raw)), 0) FROM quarantine WHERE tenant_id = t.id)
FROM tenants t;
