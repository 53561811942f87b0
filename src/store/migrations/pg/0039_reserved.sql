-- SPDX-License-Identifier: MIT
-- A placeholder for a number another branch of issue 20 takes, so that this branch's 0041
-- builds on its own (migrations have no gaps). Drop this file when merging.
SELECT 1;
