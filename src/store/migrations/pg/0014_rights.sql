-- SPDX-License-Identifier: MIT
-- Rights the role matrix missed (issue 13). Keep the shape equal to sqlite/0014_rights.sql.

-- Whether a role handles alerts (PATCH /api/v1/alerts/{id}); NULL: the code's default (every
-- role but sales). Never 1 for sales.
ALTER TABLE role_settings ADD COLUMN handle_alerts INTEGER
    CHECK (handle_alerts IN (0, 1) AND NOT (role = 'sales' AND handle_alerts = 1));

-- Which device uploaded which media file. A viewer reaches a file only through a message or
-- call of a device that uploaded it: knowing a hash is not enough to read the file.
CREATE TABLE media_uploads (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, sha256, device_id),
    FOREIGN KEY (tenant_id, sha256) REFERENCES media (tenant_id, sha256),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

-- Files stored before this migration have no uploader on record: every device whose messages
-- or calls named one by then counts as having uploaded it, so the console keeps playing them.
INSERT INTO media_uploads (tenant_id, sha256, device_id, created_us)
SELECT DISTINCT f.tenant_id, f.sha256, r.device_id, f.created_us
FROM media f
JOIN (SELECT tenant_id, device_id, media AS ref FROM messages WHERE media IS NOT NULL
      UNION
      SELECT tenant_id, device_id, recording FROM calls WHERE recording IS NOT NULL) r
  ON r.tenant_id = f.tenant_id AND r.ref = 'sha256:' || f.sha256;
