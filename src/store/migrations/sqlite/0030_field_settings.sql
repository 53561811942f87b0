-- SPDX-License-Identifier: MIT
-- Field staff (issue 18): a tenant's thresholds for tracks and attendance (sqlite; keep the pg
-- one alike). No row: the defaults (100 m, 10 minutes, 5 minutes). docs/internals/track.md
CREATE TABLE field_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    -- tracks drop points reported less accurate than this many metres
    track_accuracy_m INTEGER NOT NULL CHECK (track_accuracy_m BETWEEN 10 AND 1000),
    -- staying within 100 m for at least this many minutes is a stop
    track_stop_minutes INTEGER NOT NULL CHECK (track_stop_minutes BETWEEN 1 AND 240),
    -- a first clock-in later than the shift's start by more than this many minutes is late
    attendance_grace_minutes INTEGER NOT NULL CHECK (attendance_grace_minutes BETWEEN 0 AND 120),
    updated_us INTEGER NOT NULL
) STRICT;
