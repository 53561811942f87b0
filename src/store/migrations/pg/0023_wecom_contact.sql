-- SPDX-License-Identifier: MIT
-- WeCom customer contact (issue 16; sqlite, keep the shape equal to pg/0023_wecom_contact.sql).
-- docs/internals/wecom.md has the design.

-- The tenant's WeCom settings (CONTRACT §6, PUT /api/v1/integrations/wecom). The archive
-- connector's branch owns this table and its route; it is made here minimally, with the
-- CONTRACT's fields, so that this branch builds and tests alone. Reconciled at merge.
CREATE TABLE IF NOT EXISTS wecom_config (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    corp_id TEXT NOT NULL,
    callback_token TEXT,
    encoding_aes_key TEXT,
    contact_secret TEXT,
    archive_secret TEXT,
    archive_private_keys TEXT, -- JSON array [{"version", "pem"}]
    api_base TEXT,             -- NULL: https://qyapi.weixin.qq.com
    updated_us BIGINT NOT NULL
);

-- An employee's WeCom UserID (CONTRACT §6; the archive branch adds it too: reconciled at merge).
ALTER TABLE employees ADD COLUMN wecom_userid TEXT;
CREATE UNIQUE INDEX employees_wecom_userid ON employees (tenant_id, wecom_userid)
    WHERE wecom_userid IS NOT NULL;

-- Callbacks seen recently: "n:<timestamp>:<nonce>" (a replayed request) and "e:<sha256>" (the
-- same event sent again under another nonce), kept until expires_us, so that every node agrees.
CREATE TABLE wecom_replay (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    key TEXT NOT NULL,
    expires_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX wecom_replay_expires ON wecom_replay (tenant_id, expires_us);

-- A handover made real in WeCom: one row per moved customer that has a WeCom external userid.
-- kind: transfer (在职继承, externalcontact/transfer_customer) or resigned (离职继承,
-- externalcontact/resigned/transfer_customer). state: pending (not sent yet), waiting (WeCom
-- took it; the customer has not decided), accepted, refused (by WeCom or the customer: reason),
-- failed (workphone gave up: reason), skipped (not sent: reason).
CREATE TABLE wecom_transfers (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    handover_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    external_userid TEXT NOT NULL,
    handover_userid TEXT,
    takeover_userid TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('transfer', 'resigned')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'waiting', 'accepted', 'refused', 'failed',
                                         'skipped')),
    reason TEXT,
    errcode INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_us BIGINT,          -- when to send or ask again; NULL once final
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, handover_id, customer_id),
    FOREIGN KEY (tenant_id, handover_id) REFERENCES handovers (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX wecom_transfers_due ON wecom_transfers (next_us) WHERE next_us IS NOT NULL;
