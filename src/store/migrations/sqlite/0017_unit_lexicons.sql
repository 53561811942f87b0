-- SPDX-License-Identifier: MIT
-- Lexicons of org units (issue 15; sqlite, keep the shape equal to pg/0017_unit_lexicons.sql).
-- A unit's entries add to those of the tenant (lexicons) and of the units above it; the union
-- a phone gets is built by src/scan/union.c. docs/internals/ingest.md has the design.

-- One row per unit that has a lexicon of its own: the text in force (CONTRACT §2) and how
-- many entries it has (0: comments only, the unit adds nothing). version is drawn from the
-- tenant's one counter of policy versions (tenant_policy, below), so every version given in a
-- tenant is new: the policy version of a phone, the highest version of the lexicons on its
-- unit's path and of the tenant policy, moves whenever any of them changes. A unit deleted
-- takes its lexicon along.
CREATE TABLE unit_lexicons (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    org_unit_id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    text TEXT NOT NULL,
    entries INTEGER NOT NULL CHECK (entries >= 0),
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, org_unit_id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- The highest version given to a unit's lexicon; the tenant policy's next version is above it
-- and above its own, and so is a unit's next one.
ALTER TABLE tenant_policy ADD COLUMN unit_version INTEGER NOT NULL DEFAULT 0;
