-- SPDX-License-Identifier: MIT
-- WeCom customer contact (issue 16; sqlite, keep the shape equal to pg/0023_wecom_contact.sql).
-- docs/internals/wecom.md has the design.

-- The tenant's WeCom settings (wecom_config) and an employee's WeCom UserID
-- (employees.wecom_userid) are migration 0022's, shared with the chat archive.

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
