-- SPDX-License-Identifier: MIT
-- Rollups for the dashboard (SQLite): what src/store/ops_analytics.c folds from messages,
-- calls and alerts after a watermark, so a dashboard call reads thousands of rows, not
-- millions. Keep the shape equal to pg/0009_analytics.sql; docs/internals/analytics.md.

-- One row per tenant, UTC hour (ts_us / 3600000000) and employee: counts, and the reply
-- times of customer turns that started in that hour (reply_hist: "bin:count,..." in bin
-- order, bins of ops_analytics.c; replies <= turns).
CREATE TABLE analytics_hourly (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    hour INTEGER NOT NULL,
    employee_id TEXT NOT NULL,
    msgs_in INTEGER NOT NULL DEFAULT 0,
    msgs_out INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    call_s INTEGER NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    reply_hist TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, hour, employee_id)
) STRICT, WITHOUT ROWID;

-- Alerts per tenant, UTC hour of the event, employee, kind and category ('' for none).
CREATE TABLE analytics_alerts_hourly (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    hour INTEGER NOT NULL,
    employee_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    category TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour, employee_id, kind, category)
) STRICT, WITHOUT ROWID;

-- The reply walk's state of each one-to-one customer chat: when its unanswered customer turn
-- began (0: none open).
CREATE TABLE analytics_chats (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    employee_id TEXT NOT NULL,
    chat TEXT NOT NULL,
    open_since_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, employee_id, chat)
) STRICT, WITHOUT ROWID;

-- The watermarks of each tenant: its messages up to msg_rid are folded in, its calls and
-- alerts stored up to calls_us / alerts_us. pending_*: PostgreSQL's safe point (ops_analytics.c).
-- No row: nothing folded yet.
CREATE TABLE analytics_state (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    msg_rid INTEGER NOT NULL,
    pending_rid INTEGER NOT NULL,
    pending_xid INTEGER NOT NULL,
    calls_us INTEGER NOT NULL,
    alerts_us INTEGER NOT NULL,
    run_us INTEGER NOT NULL
) STRICT;

-- The job walks calls and alerts by when they were stored.
CREATE INDEX calls_created ON calls (tenant_id, created_us);
CREATE INDEX alerts_created ON alerts (tenant_id, created_us);
