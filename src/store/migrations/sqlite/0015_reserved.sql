-- SPDX-License-Identifier: MIT
-- Placeholder: number 0015 belongs to a migration of a parallel branch of issue 13. Drop this
-- file (and its line in src/store/meson.build) when that branch is merged.
SELECT 1;
