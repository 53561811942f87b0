-- SPDX-License-Identifier: MIT
-- Customer asset protection (PostgreSQL): customer fields, the pool, the customer timeline,
-- handovers and their reports, read grants, CRM settings. Keep the shape equal to
-- sqlite/0008_customers.sql.

-- In the pool (in_pool = 1) a customer has no owner: owner_employee_id keeps its last owner
-- (the column stays NOT NULL, so readers written before the pool keep working) and pooled_us
-- when it left. owner_since_us restarts the inactivity clock on every change of owner.
ALTER TABLE customers ADD COLUMN company TEXT;
ALTER TABLE customers ADD COLUMN notes TEXT;
ALTER TABLE customers ADD COLUMN in_pool INTEGER NOT NULL DEFAULT 0 CHECK (in_pool IN (0, 1));
ALTER TABLE customers ADD COLUMN pooled_us BIGINT;
ALTER TABLE customers ADD COLUMN pool_reason TEXT;
ALTER TABLE customers ADD COLUMN owner_since_us BIGINT;
ALTER TABLE customers ADD COLUMN last_follow_up_us BIGINT;
ALTER TABLE customers ADD COLUMN stage_us BIGINT;
CREATE INDEX customers_pool ON customers (tenant_id, in_pool, pooled_us, id);

-- The timeline's facts that are not device events: owner changes, pool moves, stage and grade
-- changes, edits, follow-up notes. actor is "employee:<id>", "apikey:<id>" or "system";
-- details a JSON object.
CREATE TABLE customer_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    ts_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_employee_id TEXT,
    details TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX customer_events_customer ON customer_events (tenant_id, customer_id, ts_us, id);
-- the daily claim limit counts an employee's claims
CREATE INDEX customer_events_actor ON customer_events (tenant_id, actor_employee_id, kind, ts_us);

-- One handover of an employee's customers; to_employees is a JSON array of ids.
CREATE TABLE handovers (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    from_employee_id TEXT NOT NULL,
    to_employees TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('departure', 'transfer')),
    keep_read_access INTEGER NOT NULL DEFAULT 0 CHECK (keep_read_access IN (0, 1)),
    idempotency_key TEXT,
    actor TEXT NOT NULL,
    customers_moved INTEGER NOT NULL,
    sessions_revoked INTEGER NOT NULL,
    devices_revoked INTEGER NOT NULL,
    api_keys_revoked INTEGER NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, from_employee_id) REFERENCES employees (tenant_id, id)
);
CREATE INDEX handovers_created ON handovers (tenant_id, created_us, id);
CREATE INDEX handovers_from ON handovers (tenant_id, from_employee_id, created_us);

-- The report: each customer a handover moved, and to whom.
CREATE TABLE handover_items (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    handover_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    to_employee_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, handover_id, customer_id),
    FOREIGN KEY (tenant_id, handover_id) REFERENCES handovers (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, to_employee_id) REFERENCES employees (tenant_id, id)
);

-- A transfer with keep_read_access: the former owner may still read these customers.
CREATE TABLE customer_read_grants (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    customer_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    handover_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, employee_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, handover_id) REFERENCES handovers (tenant_id, id)
);
CREATE INDEX customer_read_grants_employee ON customer_read_grants (tenant_id, employee_id);

-- The pool's rules per tenant; no row: the defaults of src/store/store.h.
CREATE TABLE crm_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    pool_claim_daily_max INTEGER NOT NULL CHECK (pool_claim_daily_max >= 0),
    pool_cooldown_days INTEGER NOT NULL CHECK (pool_cooldown_days >= 0),
    reclaim_inactive_days INTEGER NOT NULL CHECK (reclaim_inactive_days >= 0),
    updated_us BIGINT NOT NULL
);
