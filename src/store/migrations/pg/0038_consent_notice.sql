-- SPDX-License-Identifier: MIT
-- Issue 20: notice and consent (告知同意) and what employees are told (the other backend's file
-- is alike). docs/internals/transparency.md
-- How and when a customer was told that conversations are recorded. by: the actor that
-- recorded it (employee:<id>, apikey:<id>, device:<id>); evidence: a media ref (a signed form).
CREATE TABLE customer_consents (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('auto_message', 'signed_form', 'verbal', 'other')),
    at_us BIGINT NOT NULL,
    by_actor TEXT NOT NULL,
    note TEXT,
    evidence TEXT,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX customer_consents_customer ON customer_consents (tenant_id, customer_id, at_us);

-- What employees are told on enrollment (notice_text, its version moves on every change) and
-- the automatic first message the agent proposes to customers (NULL: none). No row: the
-- default notice at version 0.
CREATE TABLE privacy_notice (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    notice_text TEXT NOT NULL,
    notice_version BIGINT NOT NULL,
    auto_message TEXT,
    updated_us BIGINT NOT NULL
);

-- An employee acknowledged a version of the notice on a device.
CREATE TABLE notice_acks (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    employee_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    acked_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, employee_id, version)
);
