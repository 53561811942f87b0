-- SPDX-License-Identifier: MIT
-- Number 0026 belongs to another branch of issue 18; this empty file only keeps the
-- migrations numbered without a gap on this branch and gives way to that one at the merge.
SELECT 1;
