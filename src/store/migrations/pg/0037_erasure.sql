-- SPDX-License-Identifier: MIT
-- Issue 20: a customer's erasure (PIPL). The row stays as a tombstone so that audit rows,
-- handovers and other ids still name something: erased_us says when its personal data went.
-- (pg; keep the sqlite one alike.) docs/internals/pipl.md
ALTER TABLE customers ADD COLUMN erased_us BIGINT;
