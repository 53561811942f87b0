-- SPDX-License-Identifier: MIT
-- Tenants, the org tree and employees (SQLite). Keep the shape equal to pg/0001_init.sql.
-- STRICT tables check column types; INTEGER is 64-bit in SQLite (bigint on PostgreSQL).

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL
) STRICT;

-- path is the materialized path "/<root id>/.../<own id>/": a subtree is a range of paths.
CREATE TABLE org_units (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hq', 'region', 'store', 'team')),
    path TEXT NOT NULL,
    depth INTEGER NOT NULL CHECK (depth BETWEEN 1 AND 32),
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES org_units (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX org_units_path ON org_units (tenant_id, path);

CREATE TABLE employees (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    name TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'auditor', 'sales')),
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
) STRICT;
CREATE INDEX employees_org_unit ON employees (tenant_id, org_unit_id);
