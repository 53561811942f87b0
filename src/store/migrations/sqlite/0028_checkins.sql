-- SPDX-License-Identifier: MIT
-- Field staff (issue 18): check-ins (clock-in, clock-out, customer visits) as devices report
-- them, and the tenant's choice about locations outside working hours. docs/internals/checkins.md
CREATE TABLE checkins (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0),
    ts_us INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('in', 'out', 'visit')),
    lat_e7 INTEGER NOT NULL CHECK (lat_e7 BETWEEN -900000000 AND 900000000),
    lon_e7 INTEGER NOT NULL CHECK (lon_e7 BETWEEN -1800000000 AND 1800000000),
    accuracy_cm INTEGER,
    photo TEXT,
    note TEXT,
    customer_id TEXT,
    inside_geofence INTEGER CHECK (inside_geofence IN (0, 1)),
    fence_id TEXT,
    raw TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, device_id, seq),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
) STRICT;
CREATE INDEX checkins_employee ON checkins (tenant_id, employee_id, ts_us);
CREATE INDEX checkins_ts ON checkins (tenant_id, ts_us, id);
-- 'drop' (default): a location outside the employee's working hours is acknowledged, not kept
ALTER TABLE tenant_policy ADD COLUMN locations_off_duty TEXT NOT NULL DEFAULT 'drop'
    CHECK (locations_off_duty IN ('drop', 'keep'));
-- The attendance export counts toward the insider alert mass_export like every export
-- (ops_insider.c repeats this WHERE word for word).
DROP INDEX audit_log_insider;
CREATE INDEX audit_log_insider ON audit_log (tenant_id, actor, action, ts_us)
    WHERE action IN ('customer.unmask', 'message.unmask', 'handover.export', 'media.download',
                     'customers.export', 'alerts.export', 'messages.export', 'timeline.export',
                     'audit.export', 'attendance.export');
