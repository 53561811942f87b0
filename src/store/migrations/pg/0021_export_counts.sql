-- SPDX-License-Identifier: MIT
-- Import and export (issue 15): the exports of the customer list, alerts, search results, a
-- customer's timeline and the audit log count toward the insider alert mass_export like the
-- handover report and media downloads. The partial index that the counts read is made again
-- with the new actions in its WHERE (src/store/ops_insider.c repeats the list word for word).
DROP INDEX audit_log_insider;
CREATE INDEX audit_log_insider ON audit_log (tenant_id, actor, action, ts_us)
    WHERE action IN ('customer.unmask', 'message.unmask', 'handover.export', 'media.download',
                     'customers.export', 'alerts.export', 'messages.export', 'timeline.export',
                     'audit.export');
