-- SPDX-License-Identifier: MIT
-- placeholder, dropped at merge: keeps the numbering without gaps until the geofences
-- migration (issue 18, another branch) takes its number.
SELECT 1;
