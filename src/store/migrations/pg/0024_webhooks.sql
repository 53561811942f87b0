-- SPDX-License-Identifier: MIT
-- Webhooks: events out to integrations and group robots, through a durable queue (issue 16).
-- Keep the shape equal to sqlite/0024_webhooks.sql; docs/internals/webhooks.md has the design.

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
    allow_private BIGINT NOT NULL DEFAULT 0 CHECK (allow_private IN (0, 1)),
    console_url TEXT,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_by TEXT,
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- What happened and is not yet made into events: one row per alert or handover, written by
-- the triggers below in the statement that raised it (so every path that inserts an alert,
-- the device writer, the API, the jobs, a WeCom callback, enqueues it, and a rollback takes
-- it back). Only for tenants with an active webhook. Emptied by the webhooks task.
CREATE TABLE webhook_outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    source TEXT NOT NULL CHECK (source IN ('alert', 'handover')),
    subject_id TEXT NOT NULL,
    created_us BIGINT NOT NULL
);

-- One statement-level trigger per table: the writer inserts a batch's alerts in one statement
-- (unnest), and this adds their outbox rows in one statement too.
CREATE FUNCTION webhook_outbox_alerts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (tenant_id, source, subject_id, created_us)
    SELECT n.tenant_id, 'alert', n.id, n.created_us FROM webhook_new_rows n
    WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = n.tenant_id AND w.active = 1)
    ORDER BY n.created_us, n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_outbox_alerts AFTER INSERT ON alerts
    REFERENCING NEW TABLE AS webhook_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_alerts();

CREATE FUNCTION webhook_outbox_handovers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (tenant_id, source, subject_id, created_us)
    SELECT n.tenant_id, 'handover', n.id, n.created_us FROM webhook_new_rows n
    WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = n.tenant_id AND w.active = 1);
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_outbox_handovers AFTER INSERT ON handovers
    REFERENCING NEW TABLE AS webhook_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_handovers();

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
    ts_us BIGINT NOT NULL,
    payload TEXT NOT NULL,
    view TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, event, subject_id)
);
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
    attempts BIGINT NOT NULL DEFAULT 0,
    next_us BIGINT NOT NULL,
    lease_us BIGINT NOT NULL DEFAULT 0,
    window_us BIGINT NOT NULL,
    last_code BIGINT,
    last_error TEXT,
    last_us BIGINT,
    delivered_us BIGINT,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, webhook_id, event_id),
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_us) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (tenant_id, webhook_id, created_us, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (tenant_id, status, created_us, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id);
