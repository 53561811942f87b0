-- SPDX-License-Identifier: MIT
-- Issue 19: tenants for SaaS operators (pg; keep the sqlite one alike). docs/internals/cli.md
-- disabled_us: when `workphone tenant disable` refused its logins, sessions, API keys and
-- devices (NULL: active); its data stays. devices_limit: how many devices may be enrolled and
-- not revoked at once (NULL: no limit, the default).
ALTER TABLE tenants ADD COLUMN disabled_us BIGINT;
ALTER TABLE tenants ADD COLUMN devices_limit INTEGER CHECK (devices_limit >= 0);
