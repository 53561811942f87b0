-- SPDX-License-Identifier: MIT
-- A tenant whose messages are not all sealed yet (issue 20; docs/internals/encryption.md,
-- "Sealing what was there"): set by `keys migrate` when the tenant has a message text in
-- plain text, cleared by `keys seal-data` when none is left. While it is set a search asks
-- the index for the query's plain grams as well as its keyed ones.
ALTER TABLE tenants ADD COLUMN plain_messages INTEGER NOT NULL DEFAULT 0;
