-- SPDX-License-Identifier: MIT
-- A device can be disabled for a while and enabled again (PATCH /api/v1/devices/{id}): its token
-- answers 401 until then. Revoking stays for good (a revoked device enrolls again). NULL: the
-- device works; else when it was disabled. Keep the shape equal to pg/0020_device_disable.sql.
ALTER TABLE devices ADD COLUMN disabled_us INTEGER;
