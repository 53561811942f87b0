-- SPDX-License-Identifier: MIT
-- Webhooks: events out to integrations and group robots, through a durable queue (issue 16).
-- Keep the shape equal to pg/0024_webhooks.sql; docs/internals/webhooks.md has the design.

-- The subscriptions. secret is never answered back; org_unit_id (no foreign key: a unit may go
-- while its webhook stays, and then it matches nobody) limits events to those about employees
-- of that unit's subtree.
CREATE TABLE webhooks (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('json', 'wecom', 'dingtalk', 'feishu')),
    events TEXT NOT NULL,
    alert_kinds TEXT,
    org_unit_id TEXT,
    secret TEXT,
    allow_private INTEGER NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    console_url TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_by TEXT,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- What happened and is not yet made into events: one row per alert or handover, written by
-- the triggers below in the transaction that raised it (so every path that inserts an alert,
-- the device writer, the API, the jobs, a WeCom callback, enqueues it, and a rollback takes
-- it back). Only for tenants with an active webhook. Emptied by the webhooks task.
CREATE TABLE webhook_outbox (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    source TEXT NOT NULL CHECK (source IN ('alert', 'handover')),
    subject_id TEXT NOT NULL,
    created_us INTEGER NOT NULL
) STRICT;

CREATE TRIGGER webhook_outbox_alerts AFTER INSERT ON alerts
WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = NEW.tenant_id AND w.active = 1)
BEGIN
    INSERT INTO webhook_outbox (tenant_id, source, subject_id, created_us)
    VALUES (NEW.tenant_id, 'alert', NEW.id, NEW.created_us);
END;

CREATE TRIGGER webhook_outbox_handovers AFTER INSERT ON handovers
WHEN EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = NEW.tenant_id AND w.active = 1)
BEGIN
    INSERT INTO webhook_outbox (tenant_id, source, subject_id, created_us)
    VALUES (NEW.tenant_id, 'handover', NEW.id, NEW.created_us);
END;

-- The events as delivered: made once from an outbox row, frozen. (event, subject_id) is the
-- idempotency key: one alert is one alert.raised event whatever is retried, so an id is never
-- two different events. payload is the exact body of a json delivery (what an admin API key
-- would see); view the data as a manager sees it, which the robot messages are made from.
CREATE TABLE webhook_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    event TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    alert_kind TEXT,
    employee_id TEXT,
    ts_us INTEGER NOT NULL,
    payload TEXT NOT NULL,
    view TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, event, subject_id)
) STRICT;
CREATE INDEX webhook_events_created ON webhook_events (created_us);

-- One event to one webhook: the queue. pending until a 2xx (delivered) or until it has failed
-- for 24 hours from window_us (dead: the dead letters, which an admin may redeliver). A sender
-- holds a delivery until lease_us while it sends it.
CREATE TABLE webhook_deliveries (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_us INTEGER NOT NULL,
    lease_us INTEGER NOT NULL DEFAULT 0,
    window_us INTEGER NOT NULL,
    last_code INTEGER,
    last_error TEXT,
    last_us INTEGER,
    delivered_us INTEGER,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, webhook_id, event_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_us) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (tenant_id, webhook_id, created_us, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (tenant_id, status, created_us, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id);
