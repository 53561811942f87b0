-- SPDX-License-Identifier: MIT
-- Who handled an alert last, and what they said (acknowledge/resolve with a comment). The
-- audit log keeps every change; these columns keep the latest for the alert queue.
ALTER TABLE alerts ADD COLUMN comment TEXT;
ALTER TABLE alerts ADD COLUMN handled_by TEXT;
