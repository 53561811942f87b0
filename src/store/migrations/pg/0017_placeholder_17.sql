-- SPDX-License-Identifier: MIT
-- placeholder, dropped at merge: keeps the numbers of this branch in order until others land.
SELECT 1;
