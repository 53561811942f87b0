-- SPDX-License-Identifier: MIT
-- Issue 20: keys wrapped by a master key kept apart from the data (sqlite; keep the pg one
-- alike). docs/internals/keys.md. owner: 'deployment' (the audit key, the checkpoint seed) or
-- a tenant id (its data keys); purpose: 'audit', 'checkpoint' or 'data'; version: 1, 2, ...
-- per owner and purpose; wrapped: hex of the 24-byte nonce and the XChaCha20-Poly1305
-- ciphertext with its tag; master_fp: the fingerprint of the master key that wrapped it;
-- retired_us: when the re-encryption job stopped needing it (NULL: still read).
CREATE TABLE wrapped_keys (
    owner TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('audit', 'checkpoint', 'data')),
    version INTEGER NOT NULL CHECK (version >= 1),
    master_fp TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    retired_us INTEGER,
    PRIMARY KEY (owner, purpose, version)
);
