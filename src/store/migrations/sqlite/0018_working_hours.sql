-- SPDX-License-Identifier: MIT
-- Issue 15: the tenant's time zone and working hours, with a per-unit override inherited down
-- the org tree (src/store/ops_workhours.c; docs/internals/analytics.md, "Working hours").
-- Keep the shape equal to pg/0018_working_hours.sql.

-- The tenant's time zone (an IANA name): where its working hours are read. No row: the
-- default, Asia/Shanghai.
CREATE TABLE tenant_zones (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    time_zone TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;

-- Working hours: org_unit_id '' is the tenant's own (no row: Monday to Friday, 09:00-18:00),
-- any other the override of that unit and the units below it that have none of their own.
-- days: bit (d - 1) for ISO weekday d (1 Monday .. 7 Sunday); from_min, to_min: minutes after
-- local midnight; to_min <= from_min is a shift that ends the next day.
CREATE TABLE working_hours (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    org_unit_id TEXT NOT NULL,
    days INTEGER NOT NULL CHECK (days >= 0 AND days < 128),
    from_min INTEGER NOT NULL CHECK (from_min >= 0 AND from_min < 1440),
    to_min INTEGER NOT NULL CHECK (to_min > 0 AND to_min <= 1440),
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, org_unit_id)
) STRICT;

-- Reply times now count working time only: the rollups folded before are folded again.
DELETE FROM analytics_hourly;
DELETE FROM analytics_alerts_hourly;
DELETE FROM analytics_chats;
DELETE FROM analytics_state;
