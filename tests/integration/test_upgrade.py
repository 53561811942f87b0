# SPDX-License-Identifier: MIT
# Upgrades keep every row (issue 17): a store walked through the migrations one at a time
# (WORKPHONE_TEST_MIGRATE_TO=N, a test hook: the binary applies migrations up to N and stops),
# with rows inserted at each step that the schema at N allows (DATA below, keyed by migration
# number), then opened by a plain `workphone` that applies the rest. After every step each row
# seen before must still be there with the same values in the columns it had (new columns may
# add values, no row may go or change), and the newest schema must equal a store created fresh.
# One backend per run: test_upgrade.py sqlite | postgresql (the other backend's test SKIPs).
# Migrations without a data step are printed, not failed: a new migration that adds a table
# should add its step here.
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import harness
from harness import check

WP, SRC, PG_URL = harness.WP, harness.SRC, harness.PG_URL

# The rows each migration's schema allows, inserted right after that migration (plain SQL that
# both backends take). Times are small numbers: only the values matter here.
DATA = {
    1: """
INSERT INTO tenants (id, name, created_us) VALUES ('t1', 'Acme', 1000);
INSERT INTO org_units (tenant_id, id, parent_id, name, kind, path, depth, created_us)
VALUES ('t1', 'u1', NULL, 'Acme', 'hq', 'u1', 1, 1000),
       ('t1', 'u2', 'u1', '华东大区', 'region', 'u1/u2', 2, 1001);
INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, password_hash, active,
                       created_us)
VALUES ('t1', 'e1', 'u1', 'Admin', 'admin', 'admin', '$argon2id$v=19$fake', 1, 1000),
       ('t1', 'e2', 'u2', '李雷', 'lilei', 'sales', NULL, 0, 1002);
""",
    2: """
INSERT INTO devices (tenant_id, id, employee_id, serial, model, token_hash, acked_seq, revoked,
                     created_us, last_seen_us)
VALUES ('t1', 'd1', 'e2', 'SN-1', 'Pixel 7', 'th-1', 5, 0, 2000, 2100);
INSERT INTO enrollment_codes (tenant_id, code_hash, employee_id, expires_us, used_us, device_id,
                              created_us)
VALUES ('t1', 'ch-1', 'e2', 3000, 2001, 'd1', 2000);
INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id, grade, stage, created_us,
                       last_contact_us)
VALUES ('t1', 'c1', '王五', '13800000000', 'e2', 'A', 'lead', 2000, 2200);
INSERT INTO customer_identities (tenant_id, kind, value, customer_id, created_us)
VALUES ('t1', 'phone', '13800000000', 'c1', 2000);
INSERT INTO messages (tenant_id, id, device_id, employee_id, customer_id, seq, ts_us, channel,
                      direction, chat, peer_id, peer_name, peer_phone, msgtype, msgid, text,
                      media, raw, created_us)
VALUES ('t1', 'm1', 'd1', 'e2', 'c1', 1, 1764230400000000, 'wechat', 'in', 'wxid_c1', 'wxid_c1',
        '王五', '13800000000', 'text', 'mid-1', '你好，价格多少？', NULL, '{"seq":1}', 2000),
       ('t1', 'm2', 'd1', 'e2', 'c1', 2, 1764230460000000, 'wechat', 'out', 'wxid_c1', 'wxid_c1',
        '王五', NULL, 'image', 'mid-2', NULL,
        'sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '{"seq":2}', 2001);
INSERT INTO calls (tenant_id, id, device_id, employee_id, customer_id, seq, ts_us, direction,
                   peer_id, peer_name, peer_phone, duration_s, recording, raw, created_us)
VALUES ('t1', 'k1', 'd1', 'e2', 'c1', 3, 1764230500000000, 'out', NULL, '王五', '13800000000',
        65, NULL, '{"seq":3}', 2002);
INSERT INTO contact_events (tenant_id, id, device_id, employee_id, customer_id, seq, ts_us,
                            channel, action, peer_id, peer_name, peer_phone, raw, created_us)
VALUES ('t1', 'ce1', 'd1', 'e2', 'c1', 4, 1764230600000000, 'wechat', 'added', 'wxid_c1', '王五',
        NULL, '{"seq":4}', 2003);
INSERT INTO locations (tenant_id, id, device_id, employee_id, seq, ts_us, lat_e7, lon_e7,
                       accuracy_cm, raw, created_us)
VALUES ('t1', 'l1', 'd1', 'e2', 5, 1764230700000000, 312304000, 1214737000, 1500, '{"seq":5}',
        2004);
INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id, device_id, customer_id,
                    message_id, seq, pattern, action, matched, match_start, match_end, status,
                    created_us, updated_us)
VALUES ('t1', 'a1', 1764230400000000, 'keyword', 'price', 'e2', 'd1', 'c1', 'm1', 1, '价格',
        'alert', '价格', 3, 5, 'acknowledged', 2005, 2006);
INSERT INTO quarantine (tenant_id, id, device_id, seq, reason, raw, created_us)
VALUES ('t1', 'q1', 'd1', 9, 'bad json', '{', 2007);
INSERT INTO media (tenant_id, sha256, size, path, created_us)
VALUES ('t1', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1234,
        'media/aa/aaaa', 2008);
INSERT INTO lexicons (tenant_id, version, text, created_us) VALUES ('t1', 1, '价格\\n返现', 2009);
INSERT INTO tenant_policy (tenant_id, version, lexicon_version, money_alert_fen, updated_us)
VALUES ('t1', 1, 1, 50000, 2010);
""",
    3: """
INSERT INTO sessions (token_hash, tenant_id, employee_id, created_us, expires_us, revoked_us,
                      client)
VALUES ('sh-1', 't1', 'e1', 3000, 9000, NULL, '127.0.0.1'), ('sh-2', 't1', 'e2', 3001, 9001, 3500,
        '10.0.0.2');
""",
    5: """
INSERT INTO api_keys (tenant_id, id, name, role, org_unit_id, prefix, token_hash, created_by,
                      created_us, last_used_us, revoked_us)
VALUES ('t1', 'key1', 'ci', 'auditor', 'u2', 'wpk_ab12', 'kh-1', 'e1', 5000, 5100, NULL);
INSERT INTO login_failures (tenant_id, username, client, ts_us)
VALUES ('t1', 'admin', '10.0.0.1', 5001);
INSERT INTO role_settings (tenant_id, role, view_pii, unmask, updated_us)
VALUES ('t1', 'manager', 1, 0, 5002);
""",
    6: """
INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target, details, client,
                       prev_hash, hash)
VALUES ('t1', 1, 'al1', 6000, 'admin', 'login', NULL, '{}', '127.0.0.1', '00', 'h1');
INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('t1', 1, 'h1');
""",
    8: """
INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id, grade, stage, created_us,
                       company, notes, in_pool, pooled_us, pool_reason, owner_since_us,
                       last_follow_up_us, stage_us)
VALUES ('t1', 'c2', '赵六', NULL, 'e1', 'B', 'deal', 8000, '赵氏贸易', '老客户', 1, 8100,
        'inactive', 8000, 8050, 8001);
INSERT INTO customer_events (tenant_id, id, customer_id, ts_us, kind, actor, actor_employee_id,
                             details)
VALUES ('t1', 'cev1', 'c1', 8002, 'owner_changed', 'admin', 'e1', '{"from":"e1","to":"e2"}');
INSERT INTO handovers (tenant_id, id, from_employee_id, to_employees, reason, keep_read_access,
                       idempotency_key, actor, customers_moved, sessions_revoked,
                       devices_revoked, api_keys_revoked, created_us)
VALUES ('t1', 'h1', 'e1', '["e2"]', 'transfer', 1, 'idem-1', 'admin', 1, 0, 0, 0, 8003);
INSERT INTO handover_items (tenant_id, handover_id, customer_id, to_employee_id)
VALUES ('t1', 'h1', 'c1', 'e2');
INSERT INTO customer_read_grants (tenant_id, customer_id, employee_id, handover_id, created_us)
VALUES ('t1', 'c1', 'e1', 'h1', 8003);
INSERT INTO crm_settings (tenant_id, pool_claim_daily_max, pool_cooldown_days,
                          reclaim_inactive_days, updated_us)
VALUES ('t1', 5, 7, 30, 8004);
""",
    # analytics are counts made from the archive: 0018 empties them on purpose (DROPPED)
    9: """
INSERT INTO analytics_hourly (tenant_id, hour, employee_id, msgs_in, msgs_out, calls, call_s,
                              turns, replies, reply_hist)
VALUES ('t1', 490064, 'e2', 1, 1, 1, 65, 1, 1, '1');
INSERT INTO analytics_state (tenant_id, msg_rid, pending_rid, pending_xid, calls_us, alerts_us,
                             run_us)
VALUES ('t1', 2, 0, 0, 9000, 9000, 9000);
""",
    10: """
INSERT INTO tag_groups (tenant_id, id, name, color, created_us)
VALUES ('t1', 'tg1', '意向', '#409eff', 10000);
INSERT INTO tags (tenant_id, id, group_id, name, color, created_us)
VALUES ('t1', 'tag1', 'tg1', '高意向', '#f56c6c', 10001);
INSERT INTO customer_tags (tenant_id, customer_id, tag_id, created_us)
VALUES ('t1', 'c1', 'tag1', 10002);
INSERT INTO sop_rules (tenant_id, id, name, grade, stage, interval_h, grace_h, active,
                       created_us, updated_us)
VALUES ('t1', 'sop1', 'A类三天一跟', 'A', 'lead', 72, 12, 1, 10003, 10003);
INSERT INTO reminders (tenant_id, id, rule_id, customer_id, employee_id, base_us, due_us,
                       overdue_us, created_us, done_us, alert_id)
VALUES ('t1', 'r1', 'sop1', 'c1', 'e2', 10000, 20000, 30000, 10004, NULL, NULL);
INSERT INTO grade_rules (tenant_id, id, position, grade, stage, min_messages, messages_days,
                         contact_within_days, no_contact_days, tag_id, active, created_us,
                         updated_us)
VALUES ('t1', 'gr1', 1, 'A', 'lead', 10, 7, NULL, NULL, 'tag1', 1, 10005, 10005);
INSERT INTO scripts (tenant_id, id, category, title, text, norm, usage_count, created_us,
                     updated_us)
VALUES ('t1', 's1', '开场', '问候', '您好，我是小李', '您好我是小李', 3, 10006, 10006);
INSERT INTO script_usage_state (tenant_id, last_rid) VALUES ('t1', 2);
UPDATE customers SET merged_into = NULL WHERE id = 'c2';
""",
    12: """
INSERT INTO alerts (tenant_id, id, ts_us, kind, category, employee_id, device_id, customer_id,
                    status, created_us, updated_us, comment, handled_by)
VALUES ('t1', 'a2', 12000, 'money', NULL, 'e2', 'd1', 'c1', 'resolved', 12000, 12001,
        '已核实', 'e1');
""",
    13: """
INSERT INTO history_grants (tenant_id, customer_id, employee_id, source_employee_id, via,
                            created_us)
VALUES ('t1', 'c2', 'e2', 'e1', 'handover', 13000);
INSERT INTO customer_contacts (tenant_id, customer_id, employee_id, first_us)
VALUES ('t1', 'c2', 'e1', 13001);
INSERT INTO alerts (tenant_id, id, ts_us, kind, employee_id, status, created_us, updated_us,
                    other_employee_id)
VALUES ('t1', 'a3', 13002, 'poach', 'e2', 'open', 13002, 13002, 'e1');
""",
    14: """
INSERT INTO role_settings (tenant_id, role, view_pii, unmask, updated_us, handle_alerts)
VALUES ('t1', 'auditor', 1, 1, 14000, 1);
INSERT INTO media (tenant_id, sha256, size, path, created_us)
VALUES ('t1', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 9, 'media/bb/bbbb',
        14001);
INSERT INTO media_uploads (tenant_id, sha256, device_id, created_us)
VALUES ('t1', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'd1', 14001);
""",
    15: """
INSERT INTO quarantine (tenant_id, id, device_id, seq, reason, raw, created_us, raw_len,
                        raw_sha256)
VALUES ('t1', 'q2', 'd1', 10, 'too large', '[]', 15000, 2,
        'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc');
UPDATE tenant_usage SET archive_limit = 1000000 WHERE tenant_id = 't1';
""",
    16: """
INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action, target, details, client,
                       prev_hash, hash, format)
VALUES ('t1', 2, 'al2', 16000, 'admin', 'customer.unmask', 'c1', '{}', NULL, 'h1', 'h2', 2);
UPDATE audit_heads SET seq = 2, hash = 'h2', mac = 'mac2' WHERE tenant_id = 't1';
UPDATE tenants SET audit_seq = 2, audit_hash = 'h2', audit_mac = 'tmac2' WHERE id = 't1';
INSERT INTO insider_settings (tenant_id, unmask_per_hour, export_per_day, updated_us)
VALUES ('t1', 20, 5, 16001);
""",
    17: """
INSERT INTO unit_lexicons (tenant_id, org_unit_id, version, text, entries, updated_us)
VALUES ('t1', 'u2', 1, '私下转账', 1, 17000);
UPDATE tenant_policy SET unit_version = 1 WHERE tenant_id = 't1';
""",
    18: """
INSERT INTO tenant_zones (tenant_id, time_zone, updated_us) VALUES ('t1', 'Asia/Shanghai', 18000);
INSERT INTO working_hours (tenant_id, org_unit_id, days, from_min, to_min, updated_us)
VALUES ('t1', 'u2', 31, 540, 1080, 18001);
""",
    19: """
INSERT INTO customers (tenant_id, id, name, owner_employee_id, created_us, deal_amount_fen)
VALUES ('t1', 'c3', '孙七', 'e2', 19000, 1288800);
""",
    20: """
INSERT INTO devices (tenant_id, id, employee_id, serial, model, token_hash, created_us,
                     disabled_us)
VALUES ('t1', 'd2', 'e2', 'SN-2', 'Mi 13', 'th-2', 20000, 20001);
""",
    22: """
INSERT INTO employees (tenant_id, id, org_unit_id, name, username, role, created_us,
                       wecom_userid)
VALUES ('t1', 'e3', 'u2', '韩梅梅', 'hanmeimei', 'sales', 22000, 'HanMeiMei');
INSERT INTO wecom_config (tenant_id, corp_id, api_base, callback_token, encoding_aes_key,
                          contact_secret, archive_secret, sdk_path, proxy, proxy_password,
                          archive_enabled, pull_limit, pull_interval_s, backoff_max_s, timeout_s,
                          version, updated_us)
VALUES ('t1', 'ww0001', NULL, 'tok', 'aeskey', 'csec', 'asec', '/opt/sdk.so', NULL, NULL, 1, 500,
        30, 300, 5, 2, 22001);
INSERT INTO wecom_archive_keys (tenant_id, version, pem, fingerprint, bits, created_us)
VALUES ('t1', 1, '-----BEGIN PRIVATE KEY-----', 'fp1', 2048, 22002);
INSERT INTO wecom_archive_state (tenant_id, seq, records, stored, last_error)
VALUES ('t1', 42, 40, 38, 'timeout');
INSERT INTO wecom_archive_held (tenant_id, id, seq, msgid, kind, reason, record, message, bytes,
                                attempts, created_us, updated_us)
VALUES ('t1', 'wh1', 41, 'wmid', 'no_key', 'key 2 missing', '{}', NULL, 2, 3, 22003, 22004);
""",
    23: """
INSERT INTO wecom_replay (tenant_id, key, expires_us) VALUES ('t1', 'nonce-1', 23000);
INSERT INTO wecom_transfers (tenant_id, handover_id, customer_id, external_userid,
                             handover_userid, takeover_userid, kind, state, reason, errcode,
                             attempts, next_us, created_us, updated_us)
VALUES ('t1', 'h1', 'c1', 'wmExt1', 'Admin', 'HanMeiMei', 'transfer', 'waiting', NULL, NULL, 1,
        23500, 23001, 23002);
""",
    24: """
INSERT INTO webhooks (tenant_id, id, name, url, format, events, alert_kinds, org_unit_id, secret,
                      allow_private, console_url, active, created_by, created_us, updated_us)
VALUES ('t1', 'wh1', '值班群', 'https://example.com/hook', 'wecom', '["alert"]', NULL, 'u2',
        'sekrit', 0, NULL, 1, 'e1', 24000, 24000);
INSERT INTO alerts (tenant_id, id, ts_us, kind, employee_id, status, created_us, updated_us)
VALUES ('t1', 'a4', 24001, 'keyword', 'e2', 'open', 24001, 24001);
INSERT INTO webhook_events (tenant_id, id, event, subject_id, alert_kind, employee_id, ts_us,
                            payload, view, created_us)
VALUES ('t1', 'we1', 'alert', 'a4', 'keyword', 'e2', 24001, '{}', '{}', 24002);
INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_id, status, attempts, next_us,
                                lease_us, window_us, last_code, last_error, last_us,
                                delivered_us, created_us)
VALUES ('t1', 'wd1', 'wh1', 'we1', 'dead', 8, 24100, 0, 86400000000, 500, 'HTTP 500', 24099,
        NULL, 24003);
""",
    29: """
INSERT INTO map_settings (tenant_id, tiles_url, crs, updated_us)
VALUES ('t1', 'https://tiles.example.com/{z}/{x}/{y}.png', 'gcj02', 29000);
""",
    30: """
INSERT INTO field_settings (tenant_id, track_accuracy_m, track_stop_minutes,
                            attendance_grace_minutes, updated_us)
VALUES ('t1', 150, 15, 3, 30000);
""",
}

# Tables a migration empties on purpose: derived data that is built again from the archive.
DROPPED = {18: {"analytics_hourly", "analytics_alerts_hourly", "analytics_chats",
                "analytics_state"}}


class Db:
    def __init__(self, backend, tmp, name, keys):
        self.backend = backend
        self.data = os.path.join(tmp, name)
        os.mkdir(self.data, 0o700)
        shutil.copytree(keys, os.path.join(self.data, "keys"))
        self.args = []
        self.url = None
        if backend == "postgresql":
            self.dbname = "wp_upgrade_%s_%d" % (name, os.getpid())
            subprocess.run(["psql", "-q", PG_URL, "-c", "create database " + self.dbname],
                           check=True)
            self.url = PG_URL.rsplit("/", 1)[0] + "/" + self.dbname
            self.args = ["--db", self.url]
        # what `workphone init` writes: the data dir's marker, read by every command
        with open(os.path.join(self.data, "workphone.conf"), "w") as f:
            f.write("tenant_id=t1\nbackend=%s\n" % backend)

    def open(self, migrate_to=None, env_extra=None):
        """`workphone audit verify` on this store, which opens (and migrates) it; returns the
        exit status and stderr."""
        env = dict(os.environ)
        env.pop("WORKPHONE_TEST_MIGRATE_TO", None)
        env.pop("WORKPHONE_TEST_HOOKS", None)
        if migrate_to:
            env.update(WORKPHONE_TEST_HOOKS="1", WORKPHONE_TEST_MIGRATE_TO=str(migrate_to))
        env.update(env_extra or {})
        r = subprocess.run([WP, "audit", "verify", "--data", self.data, "--tenant", "nobody"] +
                           self.args, env=env, capture_output=True, text=True)
        return r.returncode, r.stderr.strip()

    def script(self, sql):
        if self.backend == "sqlite":
            con = sqlite3.connect(os.path.join(self.data, "workphone.db"))
            try:
                con.execute("PRAGMA foreign_keys = ON")
                con.executescript("BEGIN;" + sql + "COMMIT;")
            finally:
                con.close()
        else:
            subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-1", self.url, "-c", sql],
                           check=True, capture_output=True, text=True)

    def query(self, sql):
        if self.backend == "sqlite":
            con = sqlite3.connect(os.path.join(self.data, "workphone.db"))
            try:
                return [list(r) for r in con.execute(sql)]
            finally:
                con.close()
        out = subprocess.run(["psql", "-qtAX", "-F", "\x1f", self.url, "-c", sql], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("\x1f") for line in out.split("\n") if line]

    def tables(self):
        if self.backend == "sqlite":
            # the search index's virtual table and its shadow tables are rebuilt by 0007
            return sorted(r[0] for r in self.query(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'message_fts%'"))
        return sorted(r[0] for r in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'"))

    def rows(self):
        """{table: [row as a dict of column: value, ...]} of every table."""
        tables = self.tables()
        out = {t: [] for t in tables}
        if self.backend == "sqlite":
            con = sqlite3.connect(os.path.join(self.data, "workphone.db"))
            try:
                for t in tables:
                    cur = con.execute('SELECT * FROM "%s"' % t)
                    cols = [d[0] for d in cur.description]
                    out[t] = [dict(zip(cols, r)) for r in cur]
            finally:
                con.close()
        else:  # one psql for all tables: a row per line, as JSON
            sql = " UNION ALL ".join("SELECT '%s', row_to_json(x)::text FROM \"%s\" x" % (t, t)
                                     for t in tables)
            for t, r in self.query(sql):
                out[t].append(json.loads(r))
        return out

    def schema(self):
        if self.backend == "sqlite":
            return sorted(tuple(r) for r in self.query(
                "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema"))
        q = [
            "SELECT 'column', table_name, column_name, ordinal_position, data_type, is_nullable, "
            "coalesce(column_default, '') FROM information_schema.columns "
            "WHERE table_schema = current_schema()",
            "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema()",
            "SELECT 'constraint', c.conrelid::regclass::text, c.conname, "
            "pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n "
            "ON n.oid = c.connamespace WHERE n.nspname = current_schema()",
            "SELECT 'trigger', event_object_table, trigger_name, event_manipulation, "
            "action_statement FROM information_schema.triggers "
            "WHERE trigger_schema = current_schema()",
            "SELECT 'function', p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema()",
        ]
        return sorted(tuple(r) for s in q for r in self.query(s))

    def version(self):
        return int(self.query("SELECT max(version) FROM schema_version")[0][0])

    def drop(self):
        if self.url:
            subprocess.run(["psql", "-q", PG_URL, "-c", "drop database %s with (force)" %
                            self.dbname], capture_output=True)


def kept(before, after, what, allowed=frozenset()):
    """Every row of before is in after, equal in the columns it had; tables in allowed may
    lose rows."""
    for t, rows in before.items():
        if not check(t in after, "%s: table %s is gone" % (what, t)):
            continue
        if t in allowed:
            continue
        have = after[t]
        for r in rows:
            same = [a for a in have if all(k in a and a[k] == v for k, v in r.items())]
            check(len(same) >= 1, "%s: %s lost or changed the row %s" % (what, t,
                                                                          json.dumps(r, ensure_ascii=False)))


def main():
    backend = sys.argv[1]
    if backend == "postgresql" and not harness.pg_half("upgrade"):
        if harness.failures:
            print("%d checks, %d failed" % (harness.checks, harness.failures))
            return 1
        return 77
    sub = "pg" if backend == "postgresql" else "sqlite"
    latest = len(glob.glob(os.path.join(SRC, "src/store/migrations", sub, "[0-9]*.sql")))
    check(latest >= 24, "%d migrations found" % latest)
    missing = [n for n in range(1, latest + 1) if n not in DATA]
    print("%s: migrations 1..%d; without a data step: %s" %
          (backend, latest, " ".join("%04d" % n for n in missing) or "none"))

    tmp = tempfile.mkdtemp(prefix="wp-upgrade.")
    dbs = []
    try:
        # the audit keys a command loads: those `workphone init` makes, on a scratch store
        r = subprocess.run([WP, "init", "--data", os.path.join(tmp, "init"), "--tenant", "Acme",
                            "--admin", "admin"], capture_output=True, text=True,
                           env=dict(os.environ, WORKPHONE_ADMIN_PASSWORD=harness.PASSWORD))
        if not check(r.returncode == 0, "init: %s" % r.stderr):
            return 1
        keys = os.path.join(tmp, "init", "keys")
        up = Db(backend, tmp, "up", keys)
        dbs.append(up)
        # the hook refuses a target past the newest migration, and changes nothing then
        rc, err = up.open(migrate_to=latest + 1)
        check(rc == 1 and "WORKPHONE_TEST_MIGRATE_TO=%d: this workphone knows %d" %
              (latest + 1, latest) in err, "target past the newest: %d %s" % (rc, err))
        before = {}
        for n in range(1, latest + 1):
            rc, err = up.open(migrate_to=n)
            check(rc == 1 and err == "workphone audit: cannot open the store: store schema version %d: "
                  "stopped there by WORKPHONE_TEST_MIGRATE_TO (a test hook)" % n,
                  "migrate to %d: exit %d, %s" % (n, rc, err))
            if not check(up.version() == n, "version %d after migrating to %d" % (up.version(), n)):
                return 1
            after = up.rows()
            kept(before, after, "migration %04d" % n, DROPPED.get(n, frozenset()))
            if n in DATA:
                try:
                    up.script(DATA[n])
                except (sqlite3.Error, subprocess.CalledProcessError) as e:
                    check(False, "data step %d: %s %s" % (n, e, getattr(e, "stderr", "")))
                    return 1
            before = up.rows()
        # opening again at the same version changes nothing, and the hook cannot go back
        rc, err = up.open(migrate_to=latest)
        check(rc == 1 and "stopped there" in err, "again at %d: %s" % (latest, err))
        if latest > 1:
            rc, err = up.open(migrate_to=1)
            check(rc == 1 and "store schema version %d is past WORKPHONE_TEST_MIGRATE_TO=1" %
                  latest in err, "back to 1: %d %s" % (rc, err))
        check(up.rows() == before, "a refused open changed no row")
        # plain workphone, no hooks: the store is at the newest already; every row is there
        rc, err = up.open()
        check(rc == 2 and err.endswith("no tenant 'nobody' in this store"),
              "plain open: exit %d, %s" % (rc, err))
        check(up.version() == latest, "newest version %d" % up.version())
        kept(before, up.rows(), "plain open")
        counted = sum(len(v) for v in before.values())
        check(counted >= 60, "rows checked: %d" % counted)

        # from a middle version straight to the newest in one plain open (what a real upgrade
        # does), with the rows of the first steps
        mid = Db(backend, tmp, "mid", keys)
        dbs.append(mid)
        half = min(12, latest)
        rows_at = None
        for n in range(1, half + 1):
            mid.open(migrate_to=n)
            if n in DATA:
                mid.script(DATA[n])
        rows_at = mid.rows()
        check(mid.version() == half, "mid store at %d" % half)
        rc, err = mid.open()
        check(rc == 2, "mid store opened: %d %s" % (rc, err))
        check(mid.version() == latest, "mid store at the newest: %d" % mid.version())
        kept(rows_at, mid.rows(), "from %d to %d" % (half, latest),
             set().union(*[DROPPED.get(n, set()) for n in range(half + 1, latest + 1)]))

        fresh = Db(backend, tmp, "fresh", keys)
        dbs.append(fresh)
        # the hook is a test hook: a bad value is refused, and without the switch it does nothing
        rc, err = fresh.open(env_extra={"WORKPHONE_TEST_HOOKS": "1",
                                        "WORKPHONE_TEST_MIGRATE_TO": "0"})
        check(rc == 2 and "WORKPHONE_TEST_MIGRATE_TO must be 1..100000" in err,
              "a target of 0: %d %s" % (rc, err))
        rc, err = fresh.open(env_extra={"WORKPHONE_TEST_MIGRATE_TO": "3"})
        check(rc == 2 and fresh.version() == latest, "fresh store, the hook without the "
              "switch: %d %s" % (rc, err))
        fs, us, ms = fresh.schema(), up.schema(), mid.schema()
        for a, b, what in ((fs, us, "one at a time"), (fs, ms, "from %d" % half)):
            extra = sorted(set(b) - set(a))
            lack = sorted(set(a) - set(b))
            check(not extra and not lack, "schema upgraded %s differs from a fresh store: "
                  "only upgraded %s; only fresh %s" % (what, extra[:5], lack[:5]))
    finally:
        for d in dbs:
            d.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d checks, %d failed" % (harness.checks, harness.failures))
    return 1 if harness.failures else 0


if __name__ == "__main__":
    sys.exit(main())
