-- SPDX-License-Identifier: MIT
-- Reserved: a number another branch of issue 20 takes.
SELECT 1;
