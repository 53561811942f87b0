-- SPDX-License-Identifier: MIT
-- Field staff (issue 18): the tiles the console's maps show, per tenant (pg; keep the sqlite
-- one alike). No row: no tiles (the console's plain grid) in WGS-84. docs/internals/map_tiles.md
CREATE TABLE map_settings (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id),
    -- '' or an http(s) template with {z}, {x}, {y} (optional {s}), at most 500 characters
    tiles_url TEXT NOT NULL CHECK (char_length(tiles_url) <= 500),
    -- what the tiles expect: WGS-84, or GCJ-02 (the offset Chinese maps use)
    crs TEXT NOT NULL CHECK (crs IN ('wgs84', 'gcj02')),
    updated_us BIGINT NOT NULL
);
