-- SPDX-License-Identifier: MIT
-- Console login sessions (PostgreSQL). Keep the shape equal to sqlite/0003_sessions.sql.
-- Only the SHA-256 of a session token is kept: a copy of the database logs nobody in.
-- revoked_us is set by logout (and by anything that ends an employee's access); rows a day
-- past their expiry are deleted at later logins.
CREATE TABLE sessions (
    token_hash TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    employee_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL,
    revoked_us BIGINT,
    client TEXT,
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
);
CREATE INDEX sessions_employee ON sessions (tenant_id, employee_id);
CREATE INDEX sessions_expires ON sessions (expires_us);
