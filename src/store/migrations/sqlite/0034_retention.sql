-- SPDX-License-Identifier: MIT
-- Issue 20: retention rules, legal holds and the purge job's state (sqlite; keep the pg one
-- alike). docs/internals/retention.md
-- A rule keeps what it names this many days after the event's time. kind 'channel': messages
-- of that channel ('call': calls); kind 'category': a message that raised an alert of that
-- lexicon category is kept at least this long (it only lengthens a channel's rule). No row:
-- kept forever.
CREATE TABLE retention_rules (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL CHECK (kind IN ('channel', 'category')),
    name TEXT NOT NULL,
    days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500),
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, name)
) STRICT;

-- A legal hold: while lifted_us is NULL no purge touches the messages and calls of its
-- customers and employees (legal_hold_subjects). Lifted holds stay, with who and why.
CREATE TABLE legal_holds (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    lifted_by TEXT,
    lifted_us INTEGER,
    lift_reason TEXT,
    PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE legal_hold_subjects (
    tenant_id TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('customer', 'employee')),
    subject_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hold_id, kind, subject_id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES legal_holds (tenant_id, id)
) STRICT;
CREATE INDEX legal_hold_subjects_subject ON legal_hold_subjects (tenant_id, kind, subject_id);

-- What the purge of a tenant deleted so far in a run not finished yet: the batches add to it
-- in their own transactions, and the audit row that ends the run takes it and deletes it
-- (a run killed in the middle is finished, and audited once, by the next).
CREATE TABLE retention_progress (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    channel TEXT NOT NULL,
    rows INTEGER NOT NULL,
    alerts INTEGER NOT NULL,
    media INTEGER NOT NULL,
    from_us INTEGER NOT NULL,
    to_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel)
) STRICT;

-- Media files whose last row was purged: unlinked after the commit, then the row goes.
CREATE TABLE retention_files (
    tenant_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
) STRICT;

-- The purge walks a channel's oldest messages, and finds the alerts of each.
CREATE INDEX messages_channel_ts ON messages (tenant_id, channel, ts_us);
CREATE INDEX alerts_message ON alerts (tenant_id, message_id) WHERE message_id IS NOT NULL;
