-- SPDX-License-Identifier: MIT
-- Issue 19: a SaaS operator's storage limit per tenant (pg; keep the sqlite one alike).
-- storage_limit: the bytes the tenant may store in all, archive + media + quarantine as
-- tenant_usage counts them (NULL: no limit, the default); set by `workphone tenant set
-- --max-storage-mb`, not by the tenant's admin. Additive: an older node ignores it.
ALTER TABLE tenants ADD COLUMN storage_limit BIGINT CHECK (storage_limit >= 0);
