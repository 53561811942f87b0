-- SPDX-License-Identifier: MIT
-- placeholder, dropped at merge
SELECT 1;
