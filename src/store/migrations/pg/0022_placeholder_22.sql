-- SPDX-License-Identifier: MIT
-- placeholder, dropped at merge: keeps the numbering without gaps until the migrations of the
-- branches merged before this one take its number.
SELECT 1;
