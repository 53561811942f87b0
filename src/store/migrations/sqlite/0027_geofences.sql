-- SPDX-License-Identifier: MIT
-- Issue 18: geofences per org unit, each employee's state towards them, and its comings and
-- goings (src/store/ops_geofence.c; docs/internals/geofence.md).
-- Keep the shape equal to pg/0027_geofences.sql.

-- A circle (center, radius_m) or a polygon (points_json: [[lon_e7, lat_e7], ...]) of a unit,
-- binding the employees of that unit and of the units below it. schedule_json NULL: the
-- employee's working hours; else {"days": bits, "from": min, "to": min} in the tenant's zone.
-- The bounding box (e7 degrees) lets ingest skip far shapes.
CREATE TABLE geofences (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    org_unit_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('circle', 'polygon')),
    center_lat_e7 INTEGER,
    center_lon_e7 INTEGER,
    radius_m INTEGER,
    points_json TEXT,
    schedule_json TEXT,
    min_lat_e7 INTEGER NOT NULL,
    max_lat_e7 INTEGER NOT NULL,
    min_lon_e7 INTEGER NOT NULL,
    max_lon_e7 INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX geofences_unit ON geofences (tenant_id, org_unit_id);

-- Moves on every write of a tenant's fences (in its transaction): ingest keeps the fences in
-- memory and reads only this number per batch.
CREATE TABLE geofence_versions (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    version INTEGER NOT NULL
) STRICT;

-- One row per employee: inside, outside or unknown since since_us (the time of the point that
-- decided it); points older than since_us change nothing.
CREATE TABLE geofence_state (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    employee_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('inside', 'outside', 'unknown')),
    since_us INTEGER NOT NULL,
    last_lat_e7 INTEGER NOT NULL,
    last_lon_e7 INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, employee_id)
) STRICT;

-- geofence.leave (with the alert it raised, when in the schedule) and geofence.return.
CREATE TABLE geofence_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    geofence_id TEXT,
    ts_us INTEGER NOT NULL,
    lat_e7 INTEGER NOT NULL,
    lon_e7 INTEGER NOT NULL,
    alert_id TEXT,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX geofence_events_employee ON geofence_events (tenant_id, employee_id, ts_us);
