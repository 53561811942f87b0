-- SPDX-License-Identifier: MIT
-- Customer rules (SQLite): tags and tag groups, follow-up SOP rules and their reminders,
-- automatic grading rules, the scripts library (话术). Keep the shape equal to
-- pg/0010_crm_rules.sql. docs/internals/crm.md has the rules.

CREATE TABLE tag_groups (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
) STRICT;

-- A tag's name is unique in its group ("" for none: a NULL would not be unique).
CREATE TABLE tags (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, group_id, name)
) STRICT;

CREATE TABLE customer_tags (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    customer_id TEXT NOT NULL,
    tag_id TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, tag_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id)
) STRICT;
CREATE INDEX customer_tags_tag ON customer_tags (tenant_id, tag_id, customer_id);

-- A follow-up rule: customers not in the pool matching grade and stage ("" = any) are due
-- interval_h hours after their base (the latest of creation, change of owner, follow-up),
-- overdue grace_h hours after that.
CREATE TABLE sop_rules (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    grade TEXT NOT NULL,
    stage TEXT NOT NULL,
    interval_h INTEGER NOT NULL CHECK (interval_h > 0),
    grace_h INTEGER NOT NULL CHECK (grace_h >= 0),
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- One reminder per rule, customer and base: the job re-inserting it changes nothing. It is
-- open while the customer's base is still base_us and done_us is NULL.
CREATE TABLE reminders (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    base_us INTEGER NOT NULL,
    due_us INTEGER NOT NULL,
    overdue_us INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    done_us INTEGER,
    alert_id TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, rule_id, customer_id, base_us),
    FOREIGN KEY (tenant_id, rule_id) REFERENCES sop_rules (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
) STRICT;
CREATE INDEX reminders_employee ON reminders (tenant_id, employee_id, due_us, id);
CREATE INDEX reminders_open ON reminders (tenant_id, done_us, overdue_us);

-- Grading rules, evaluated by position: the first whose every set condition holds gives the
-- grade. NULL / "" conditions are not checked.
CREATE TABLE grade_rules (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    grade TEXT NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    stage TEXT NOT NULL,
    min_messages INTEGER,
    messages_days INTEGER,
    contact_within_days INTEGER,
    no_contact_days INTEGER,
    tag_id TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- Approved reply templates; norm is the text normalized for matching messages.
CREATE TABLE scripts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX scripts_category ON scripts (tenant_id, category, id);

-- How far the usage job has read each tenant's messages (messages.rid).
CREATE TABLE script_usage_state (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    last_rid INTEGER NOT NULL
) STRICT;

-- A merged customer stays as a tombstone pointing at the survivor (POST /customers/{id}/merge);
-- its identities and history moved there.
ALTER TABLE customers ADD COLUMN merged_into TEXT;
