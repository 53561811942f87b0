-- SPDX-License-Identifier: MIT
-- A placeholder that keeps the numbers without a gap on this branch: another part of issue 13
-- adds the real migration of this number. Drop this file when merging it.
SELECT 1;
