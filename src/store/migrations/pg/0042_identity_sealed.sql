-- SPDX-License-Identifier: MIT
-- Issue 20: with a master key, a phone identity's value is its blind index (the lookup, the
-- key's uniqueness) and the number itself is kept sealed here, for display
-- (docs/internals/encryption.md, "What is built (customers' phones)"). NULL: value is the
-- identity as it is.
ALTER TABLE customer_identities ADD COLUMN sealed TEXT;
