-- SPDX-License-Identifier: MIT
-- The archive (SQLite): devices, enrollment codes, customers, what devices report, alerts,
-- quarantine, media, lexicons, the tenant policy. Keep the shape equal to pg/0002_archive.sql;
-- the search index is the one difference (here an FTS5 table, there a grams array).

-- token_hash and code_hash are unique across tenants: a device presents only its secret.
CREATE TABLE devices (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    serial TEXT NOT NULL,
    model TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    acked_seq INTEGER NOT NULL DEFAULT 0 CHECK (acked_seq >= 0),
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    created_us INTEGER NOT NULL,
    last_seen_us INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
) STRICT;
CREATE INDEX devices_employee ON devices (tenant_id, employee_id);
CREATE INDEX devices_serial ON devices (tenant_id, serial);
CREATE INDEX devices_created ON devices (tenant_id, created_us, id);

CREATE TABLE enrollment_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    code_hash TEXT NOT NULL PRIMARY KEY,
    employee_id TEXT NOT NULL,
    expires_us INTEGER NOT NULL,
    used_us INTEGER,
    device_id TEXT,
    created_us INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
) STRICT;
CREATE INDEX enrollment_codes_employee ON enrollment_codes (tenant_id, employee_id);

CREATE TABLE customers (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT,
    owner_employee_id TEXT NOT NULL,
    grade TEXT,
    stage TEXT,
    created_us INTEGER NOT NULL,
    last_contact_us INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_employee_id) REFERENCES employees (tenant_id, id)
) STRICT;
CREATE INDEX customers_created ON customers (tenant_id, created_us, id);
CREATE INDEX customers_owner ON customers (tenant_id, owner_employee_id, created_us);

-- kind is 'phone' or a channel word ('wechat', 'wecom', 'email', ...): how a peer is found again.
CREATE TABLE customer_identities (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, value),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX customer_identities_customer ON customer_identities (tenant_id, customer_id);

-- rid is the row's number in the search index (message_fts rowid); id is the public id.
-- (tenant_id, device_id, seq) unique: an event is never stored twice.
CREATE TABLE messages (
    rid INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    customer_id TEXT,
    seq INTEGER NOT NULL CHECK (seq > 0),
    ts_us INTEGER NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT CHECK (direction IN ('in', 'out')),
    chat TEXT,
    group_id TEXT,
    group_name TEXT,
    peer_id TEXT,
    peer_name TEXT,
    peer_phone TEXT,
    msgtype TEXT NOT NULL,
    msgid TEXT,
    text TEXT,
    media TEXT,
    filename TEXT,
    size INTEGER,
    url TEXT,
    title TEXT,
    amount_fen INTEGER,
    memo TEXT,
    revoked_seq INTEGER,
    revoked_msgid TEXT,
    recalled INTEGER NOT NULL DEFAULT 0 CHECK (recalled IN (0, 1)),
    recalled_us INTEGER,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX messages_ts ON messages (tenant_id, ts_us, id);
CREATE INDEX messages_customer ON messages (tenant_id, customer_id, ts_us);
CREATE INDEX messages_employee ON messages (tenant_id, employee_id, ts_us);
CREATE INDEX messages_msgid ON messages (tenant_id, device_id, msgid);

-- The grams of each message's text (src/store/grams.c), space-separated, indexed by the
-- built-in ascii tokenizer, which splits exactly there (grams hold no ASCII punctuation).
-- Contentless: the grams are not stored twice; tenant_id is only there for the schema's rule.
CREATE VIRTUAL TABLE message_fts USING fts5 (
    tenant_id UNINDEXED, grams, content = '', tokenize = 'ascii', detail = 'none',
    columnsize = 0
);

CREATE TABLE calls (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    customer_id TEXT,
    seq INTEGER NOT NULL CHECK (seq > 0),
    ts_us INTEGER NOT NULL,
    direction TEXT CHECK (direction IN ('in', 'out')),
    peer_id TEXT,
    peer_name TEXT,
    peer_phone TEXT,
    duration_s INTEGER,
    recording TEXT,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX calls_customer ON calls (tenant_id, customer_id, ts_us);
CREATE INDEX calls_ts ON calls (tenant_id, ts_us, id);

CREATE TABLE contact_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    customer_id TEXT,
    seq INTEGER NOT NULL CHECK (seq > 0),
    ts_us INTEGER NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    peer_id TEXT,
    peer_name TEXT,
    peer_phone TEXT,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
) STRICT;
CREATE INDEX contact_events_customer ON contact_events (tenant_id, customer_id, ts_us);

-- Degrees * 1e7 and centimetres: exact integers on both backends.
CREATE TABLE locations (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    ts_us INTEGER NOT NULL,
    lat_e7 INTEGER NOT NULL CHECK (lat_e7 BETWEEN -900000000 AND 900000000),
    lon_e7 INTEGER NOT NULL CHECK (lon_e7 BETWEEN -1800000000 AND 1800000000),
    accuracy_cm INTEGER,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
) STRICT;
CREATE INDEX locations_device ON locations (tenant_id, device_id, ts_us);

CREATE TABLE alerts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    category TEXT,
    employee_id TEXT NOT NULL,
    device_id TEXT,
    customer_id TEXT,
    message_id TEXT,
    seq INTEGER,
    pattern TEXT,
    action TEXT,
    matched TEXT,
    match_start INTEGER,
    match_end INTEGER,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id)
) STRICT;
CREATE INDEX alerts_ts ON alerts (tenant_id, ts_us, id);
CREATE INDEX alerts_status ON alerts (tenant_id, status, ts_us);
CREATE INDEX alerts_customer ON alerts (tenant_id, customer_id, ts_us);

-- Events that failed validation, kept raw. seq is NULL when the event had no usable one.
CREATE TABLE quarantine (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    seq INTEGER,
    reason TEXT NOT NULL,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
) STRICT;

-- Files are content-addressed under <data dir>/media/<path>; a row says the tenant has one.
CREATE TABLE media (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    path TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
) STRICT;

CREATE TABLE lexicons (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    version INTEGER NOT NULL CHECK (version > 0),
    text TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
) STRICT;

-- version moves on every change of the lexicon or a setting: the policy's ETag.
CREATE TABLE tenant_policy (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    version INTEGER NOT NULL CHECK (version > 0),
    lexicon_version INTEGER NOT NULL,
    money_alert_fen INTEGER NOT NULL CHECK (money_alert_fen >= 0),
    updated_us INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, lexicon_version) REFERENCES lexicons (tenant_id, version)
) STRICT;
