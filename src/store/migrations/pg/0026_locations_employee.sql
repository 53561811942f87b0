-- Tracks (issue 18): one employee's points over a time range, whichever of its devices sent
-- them, read in time order without sorting (GET /api/v1/employees/{id}/track).
CREATE INDEX locations_employee ON locations (tenant_id, employee_id, ts_us);
