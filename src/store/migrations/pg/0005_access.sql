-- SPDX-License-Identifier: MIT
-- API keys, login failures (throttling) and what each role may see (PostgreSQL). Keep the shape
-- equal to sqlite/0005_access.sql.

-- An integration's credential. Only the SHA-256 of the key is kept; prefix (the first
-- characters) lets people tell keys apart in lists. A manager key reads the subtree of
-- org_unit_id.
CREATE TABLE api_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'auditor')),
    org_unit_id TEXT,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_us BIGINT NOT NULL,
    last_used_us BIGINT,
    revoked_us BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

-- One row per failed login, for lockout per account and per address. tenant_id is '' when
-- the login named no known tenant. Rows past the window are deleted as new ones come.
CREATE TABLE login_failures (
    tenant_id TEXT NOT NULL,
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    ts_us BIGINT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures (tenant_id, username, ts_us);
CREATE INDEX login_failures_client ON login_failures (client, ts_us);
CREATE INDEX login_failures_ts ON login_failures (ts_us);

-- Per tenant and role: see personal data unmasked (view_pii), or unmask one record at a time
-- with an audit row (unmask). A role without a row has the defaults of the code.
CREATE TABLE role_settings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'auditor', 'sales')),
    view_pii INTEGER NOT NULL CHECK (view_pii IN (0, 1)),
    unmask INTEGER NOT NULL CHECK (unmask IN (0, 1)),
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, role)
);
