-- SPDX-License-Identifier: MIT
-- The WeCom chat archive (会话内容存档, issue 16; SQLite, keep the shape equal to
-- pg/0022_wecom_archive.sql). docs/internals/wecom_archive.md has the design.

-- An employee's WeCom UserID (CONTRACT §6): archive records and callbacks find their employee
-- by it (the customer-contact side, migration 0023, finds employees by it too).
ALTER TABLE employees ADD COLUMN wecom_userid TEXT;
CREATE UNIQUE INDEX employees_wecom_userid ON employees (tenant_id, wecom_userid)
    WHERE wecom_userid IS NOT NULL;

-- A WeCom message is one message whichever way it came (the phone's agent or the archive):
-- found again by its msgid within the tenant (src/store/ops_events.c, the dedupe).
CREATE INDEX messages_wecom_msgid ON messages (tenant_id, msgid)
    WHERE channel = 'wecom' AND msgid IS NOT NULL;
-- and, without a msgid (a phone's agent that did not have it), by employee and time: the rows an
-- archive record looks among for its copy (the archive's own rows all have a msgid).
CREATE INDEX messages_wecom_no_msgid ON messages (tenant_id, employee_id, ts_us)
    WHERE channel = 'wecom' AND msgid IS NULL;

-- The tenant's WeCom settings (PUT /api/v1/integrations/wecom). The secrets (callback_token,
-- encoding_aes_key, contact_secret, archive_secret, proxy_password) are sealed by
-- src/wecom/settings.c ("s1:" + base64 of an XChaCha20-Poly1305 box under a key derived from
-- the audit key, bound to the tenant and the field): the database alone does not reveal them.
-- version moves on every change, so the archive connector knows to start its SDK again.
CREATE TABLE wecom_config (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    corp_id TEXT NOT NULL,
    api_base TEXT,
    callback_token TEXT,
    encoding_aes_key TEXT,
    contact_secret TEXT,
    archive_secret TEXT,
    sdk_path TEXT,
    proxy TEXT,
    proxy_password TEXT,
    archive_enabled INTEGER NOT NULL DEFAULT 1 CHECK (archive_enabled IN (0, 1)),
    pull_limit INTEGER NOT NULL DEFAULT 1000 CHECK (pull_limit BETWEEN 1 AND 1000),
    pull_interval_s INTEGER NOT NULL DEFAULT 60 CHECK (pull_interval_s BETWEEN 1 AND 86400),
    backoff_max_s INTEGER NOT NULL DEFAULT 600 CHECK (backoff_max_s BETWEEN 1 AND 86400),
    timeout_s INTEGER NOT NULL DEFAULT 10 CHECK (timeout_s BETWEEN 1 AND 300),
    version INTEGER NOT NULL DEFAULT 1 CHECK (version > 0),
    updated_us INTEGER NOT NULL
) STRICT;

-- The archive's private keys, one per publickey_ver WeCom names (it rotates them: old records
-- keep their version). pem is sealed like the secrets above; fingerprint is "sha256:" and the
-- first 16 hex digits of the SHA-256 of the public key (DER), what the console shows.
CREATE TABLE wecom_archive_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    version INTEGER NOT NULL CHECK (version > 0),
    pem TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    bits INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
) STRICT;

-- Where the connector stands, per tenant: seq is the last archive seq handled, written in the
-- transaction that stores the records up to it (a crash anywhere loses or doubles nothing).
-- failures counts the pulls that failed in a row (the back-off), errors all of them;
-- retry_gen moves when what failed may work now (keys, a wecom_userid): held records are
-- tried again until retried_gen catches up.
CREATE TABLE wecom_archive_state (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq INTEGER NOT NULL DEFAULT 0 CHECK (seq >= 0),
    records INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    pulls INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_pull_us INTEGER,
    last_record_us INTEGER,
    last_error TEXT,
    last_error_us INTEGER,
    next_due_us INTEGER,
    retry_gen INTEGER NOT NULL DEFAULT 0,
    retried_gen INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Archive records not stored as messages (yet), with why: kind unknown_employee (no employee
-- has the record's userids), no_key (no private key of its publickey_ver), bad_key (the key
-- does not open its random key), decrypt (DecryptData refused it), invalid_record,
-- invalid_message, too_large. The first four are tried again when retry_gen moves. record is
-- the record as GetChatData gave it (still encrypted), message the decrypted message when it
-- got that far. seq is NULL only for a record without a usable one.
CREATE TABLE wecom_archive_held (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    seq INTEGER,
    msgid TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('unknown_employee', 'no_key', 'bad_key', 'decrypt',
                                       'invalid_record', 'invalid_message', 'too_large')),
    reason TEXT NOT NULL,
    record TEXT NOT NULL,
    message TEXT,
    bytes INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX wecom_archive_held_seq ON wecom_archive_held (tenant_id, seq);
CREATE INDEX wecom_archive_held_kind ON wecom_archive_held (tenant_id, kind, seq);
