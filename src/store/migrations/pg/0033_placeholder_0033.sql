-- SPDX-License-Identifier: MIT
-- placeholder, dropped at merge: keeps the numbering without gaps on this branch.
SELECT 1;
