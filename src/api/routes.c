/* SPDX-License-Identifier: MIT */
/* The route table of workphone: every endpoint, its handler and the right it needs. */
#include "api/api.h"

/* Every endpoint of workphone, with the right it needs. Order matters only where two rows
 * could match the same path: put the literal row first (wp_http_routes_check() enforces it).
 * Each row is also documented in docs/openapi.yaml, with x-workphone-right naming its right. */
static const wp_http_route routes[] = {
    {"GET", "/api/v1/health", api_health_get, WP_RIGHT_PUBLIC, 0},
    {"GET", "/api/v1/ready", api_ready_get, WP_RIGHT_PUBLIC, 0},
    {"GET", "/metrics", wp_http_metrics_get, WP_RIGHT_METRICS, 0},

    /* console sessions (src/api/auth.c) */
    {"POST", "/api/v1/auth/login", api_auth_login, WP_RIGHT_PUBLIC,
     WP_ROUTE_JSON_ONLY | WP_ROUTE_SAME_ORIGIN},
    {"POST", "/api/v1/auth/logout", api_auth_logout, WP_RIGHT_SESSION, 0},
    {"GET", "/api/v1/auth/session", api_auth_session, WP_RIGHT_SESSION, 0},
    {"POST", "/api/v1/auth/password", api_auth_password, WP_RIGHT_SESSION, 0},

    /* the device protocol, CONTRACT §4 (src/api/device.c) */
    {"POST", "/api/v1/device/enroll", api_device_enroll, WP_RIGHT_PUBLIC, 0},
    {"POST", "/api/v1/device/events", api_device_events, WP_RIGHT_DEVICE, WP_ROUTE_SHARED},
    {"POST", "/api/v1/device/check", api_device_check, WP_RIGHT_DEVICE, 0},
    {"GET", "/api/v1/device/policy", api_device_policy, WP_RIGHT_DEVICE, 0},
    {"POST", "/api/v1/device/notice-ack", api_device_notice_ack, WP_RIGHT_DEVICE, 0},
    {"POST", "/api/v1/device/consents", api_device_consents_create, WP_RIGHT_DEVICE, 0},
    {"PUT", "/api/v1/device/media/{ref}", api_device_media_put, WP_RIGHT_DEVICE,
     WP_ROUTE_STREAM_BODY},

    /* the console, CONTRACT §5 */
    {"GET", "/api/v1/org-units", api_org_units_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/org-units", api_org_units_create, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/org-units/{id}", api_org_units_get, WP_RIGHT_READ, 0},
    {"PATCH", "/api/v1/org-units/{id}", api_org_units_update, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/org-units/{id}", api_org_units_delete, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/employees", api_employees_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/employees", api_employees_create, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/employees/{id}", api_employees_get, WP_RIGHT_READ, 0},
    {"PATCH", "/api/v1/employees/{id}", api_employees_update, WP_RIGHT_ADMIN, 0},
    {"PUT", "/api/v1/employees/{id}/password", api_employees_password_reset, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/employees/{id}/enrollment-codes", api_enrollment_codes_create,
     WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/devices", api_devices_list, WP_RIGHT_READ, 0},
    {"PATCH", "/api/v1/devices/{id}", api_devices_update, WP_RIGHT_MANAGE, 0},
    {"POST", "/api/v1/devices/{id}/revoke", api_devices_revoke, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/media/{ref}", api_media_get, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/messages", api_messages_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/messages/{id}/unmask", api_messages_unmask, WP_RIGHT_UNMASK, 0},
    {"GET", "/api/v1/alerts", api_alerts_list, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/geofences", api_geofences_list, WP_RIGHT_READ, 0}, /* issue 18 */
    {"POST", "/api/v1/geofences", api_geofences_create, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/geofences/{id}", api_geofences_get, WP_RIGHT_READ, 0},
    {"PATCH", "/api/v1/geofences/{id}", api_geofences_update, WP_RIGHT_MANAGE, 0},
    {"DELETE", "/api/v1/geofences/{id}", api_geofences_delete, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/alerts/count", api_alerts_count, WP_RIGHT_READ, 0}, /* issue 15 */
    {"PATCH", "/api/v1/alerts/{id}", api_alerts_update, WP_RIGHT_HANDLE_ALERTS, 0},
    {"GET", "/api/v1/customers", api_customers_list, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/customers/export", api_export_customers, WP_RIGHT_READ, 0}, /* issue 15 */
    {"GET", "/api/v1/customers/{id}", api_customers_get, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/customers/{id}/unmask", api_customers_unmask, WP_RIGHT_UNMASK, 0},
    {"POST", "/api/v1/customers/{id}/assign", api_customers_assign, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/lexicon", api_lexicon_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/lexicon", api_lexicon_put, WP_RIGHT_ADMIN, WP_ROUTE_RAW_BODY},
    {"POST", "/api/v1/lexicon/check", api_lexicon_check, WP_RIGHT_ADMIN,
     WP_ROUTE_CHANGES_NOTHING},
    {"GET", "/api/v1/lexicons", api_lexicons_list, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/settings", api_settings_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/settings", api_settings_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/roles", api_roles_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/roles/{role}", api_roles_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/api-keys", api_keys_list, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/api-keys", api_keys_create, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/api-keys/{id}", api_keys_revoke, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/audit", api_audit_list, WP_RIGHT_AUDIT, 0},
    {"GET", "/api/v1/audit/verify", api_audit_verify, WP_RIGHT_AUDIT, 0},
    /* WeCom, CONTRACT §6: settings and the chat archive (src/api/integrations.c) */
    {"GET", "/api/v1/integrations/wecom", api_integrations_wecom_get, WP_RIGHT_ADMIN, 0},
    {"PUT", "/api/v1/integrations/wecom", api_integrations_wecom_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/integrations/wecom/archive/held", api_integrations_wecom_held,
     WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/integrations/wecom/archive/retry", api_integrations_wecom_retry,
     WP_RIGHT_ADMIN, 0},

    /* customer asset protection, issue 7 (src/api/pool.c, handovers.c, timeline.c) */
    {"PATCH", "/api/v1/customers/{id}", api_customers_update, WP_RIGHT_WRITE, 0},
    {"GET", "/api/v1/customers/{id}/timeline", api_customers_timeline, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/customers/{id}/follow-ups", api_customers_follow_up, WP_RIGHT_WRITE, 0},
    {"POST", "/api/v1/customers/{id}/release", api_customers_release, WP_RIGHT_WRITE, 0},
    {"GET", "/api/v1/pool", api_pool_list, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/pool/settings", api_pool_settings_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/pool/settings", api_pool_settings_put, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/pool/{id}/claim", api_pool_claim, WP_RIGHT_WRITE, 0},
    {"POST", "/api/v1/pool/{id}/assign", api_pool_assign, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/handovers", api_handovers_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/handovers", api_handovers_create, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/handovers/{id}", api_handovers_get, WP_RIGHT_READ, 0},
    /* WeCom customer contact, issue 16 (src/api/wecom.c): the callback proves itself by
     * WeCom's signature */
    {"GET", "/api/v1/wecom/callback/{tenant_id}", api_wecom_callback_get, WP_RIGHT_PUBLIC, 0},
    {"POST", "/api/v1/wecom/callback/{tenant_id}", api_wecom_callback_post, WP_RIGHT_PUBLIC,
     WP_ROUTE_STREAM_BODY},
    {"POST", "/api/v1/integrations/wecom/contacts/sync", api_wecom_sync, WP_RIGHT_ADMIN, 0},
    /* customer rules, issue 7 (src/api/tags.c, rules.c) */
    {"GET", "/api/v1/tag-groups", api_tag_groups_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/tag-groups", api_tag_groups_create, WP_RIGHT_MANAGE, 0},
    {"PATCH", "/api/v1/tag-groups/{id}", api_tag_groups_update, WP_RIGHT_MANAGE, 0},
    {"DELETE", "/api/v1/tag-groups/{id}", api_tag_groups_delete, WP_RIGHT_MANAGE, 0},
    {"GET", "/api/v1/tags", api_tags_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/tags", api_tags_create, WP_RIGHT_MANAGE, 0},
    {"PATCH", "/api/v1/tags/{id}", api_tags_update, WP_RIGHT_MANAGE, 0},
    {"DELETE", "/api/v1/tags/{id}", api_tags_delete, WP_RIGHT_MANAGE, 0},
    {"PUT", "/api/v1/customers/{id}/tags", api_customers_tags_put, WP_RIGHT_WRITE, 0},
    {"GET", "/api/v1/sop-rules", api_sop_rules_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/sop-rules", api_sop_rules_create, WP_RIGHT_ADMIN, 0},
    {"PATCH", "/api/v1/sop-rules/{id}", api_sop_rules_update, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/sop-rules/{id}", api_sop_rules_delete, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/reminders", api_reminders_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/reminders/{id}/done", api_reminders_done, WP_RIGHT_WRITE, 0},
    {"GET", "/api/v1/grade-rules", api_grade_rules_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/grade-rules", api_grade_rules_create, WP_RIGHT_ADMIN, 0},
    {"PATCH", "/api/v1/grade-rules/{id}", api_grade_rules_update, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/grade-rules/{id}", api_grade_rules_delete, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/scripts", api_scripts_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/scripts", api_scripts_create, WP_RIGHT_MANAGE, 0},
    {"PATCH", "/api/v1/scripts/{id}", api_scripts_update, WP_RIGHT_MANAGE, 0},
    {"DELETE", "/api/v1/scripts/{id}", api_scripts_delete, WP_RIGHT_MANAGE, 0},
    {"POST", "/api/v1/customers/{id}/merge", api_customers_merge, WP_RIGHT_WRITE, 0},

    /* import and export, issue 15 (src/api/import.c, export.c; customers.c) */
    {"POST", "/api/v1/customers", api_customers_create, WP_RIGHT_WRITE, 0},
    {"POST", "/api/v1/customers/import", api_import_customers, WP_RIGHT_MANAGE,
     WP_ROUTE_STREAM_BODY},
    {"POST", "/api/v1/employees/import", api_import_employees, WP_RIGHT_ADMIN,
     WP_ROUTE_STREAM_BODY},
    {"GET", "/api/v1/alerts/export", api_export_alerts, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/messages/export", api_export_messages, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/customers/{id}/timeline/export", api_export_timeline, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/audit/export", api_export_audit, WP_RIGHT_AUDIT, 0},

    /* the dashboard, issue 9 (src/api/analytics.c) */
    {"GET", "/api/v1/analytics/activity", api_analytics_activity, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/analytics/response-times", api_analytics_response_times, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/analytics/alerts", api_analytics_alerts, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/analytics/funnel", api_analytics_funnel, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/analytics/conversion", api_analytics_conversion, WP_RIGHT_READ, 0},

    /* events out, issue 16 (src/api/webhooks.c) */
    {"GET", "/api/v1/webhooks", api_webhooks_list, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/webhooks", api_webhooks_create, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/webhooks/{id}", api_webhooks_get, WP_RIGHT_ADMIN, 0},
    {"PATCH", "/api/v1/webhooks/{id}", api_webhooks_update, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/webhooks/{id}", api_webhooks_delete, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/webhooks/{id}/test", api_webhooks_test, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/webhooks/{id}/deliveries", api_webhooks_deliveries, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/webhook-deliveries", api_webhook_deliveries_list, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/webhook-deliveries/{id}/redeliver", api_webhook_deliveries_redeliver,
     WP_RIGHT_ADMIN, 0},
    /* what people see, issue 15 (src/api/workhours.c) */
    {"GET", "/api/v1/working-hours", api_working_hours_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/working-hours", api_working_hours_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/employees/{id}/working-hours", api_employee_working_hours, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/employees/{id}/track", api_employee_track, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/checkins", api_checkins_list, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/attendance", api_attendance, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/attendance/export", api_export_attendance, WP_RIGHT_READ, 0},
    {"GET", "/api/v1/locations/latest", api_locations_latest, WP_RIGHT_READ, 0},
    /* retention and legal holds, issue 20 (src/api/retention.c) */
    {"GET", "/api/v1/retention", api_retention_get, WP_RIGHT_ADMIN, 0},
    {"PUT", "/api/v1/retention", api_retention_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/legal-holds", api_legal_holds_list, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/legal-holds", api_legal_holds_create, WP_RIGHT_ADMIN, 0},
    {"DELETE", "/api/v1/legal-holds/{id}", api_legal_holds_lift, WP_RIGHT_ADMIN, 0},
    /* a customer's personal data: a data request and erasure, issue 20 (src/api/pipl.c) */
    {"POST", "/api/v1/customers/{id}/data-export", api_customers_data_export, WP_RIGHT_ADMIN, 0},
    {"POST", "/api/v1/customers/{id}/erase", api_customers_erase, WP_RIGHT_ADMIN, 0},
    /* notice and consent, employee transparency, issue 20 (src/api/privacy.c) */
    {"GET", "/api/v1/customers/{id}/consents", api_consents_list, WP_RIGHT_READ, 0},
    {"POST", "/api/v1/customers/{id}/consents", api_consents_create, WP_RIGHT_WRITE, 0},
    {"GET", "/api/v1/me/privacy", api_me_privacy, WP_RIGHT_SESSION, 0},
    {"GET", "/api/v1/me/viewers", api_me_viewers, WP_RIGHT_SESSION, 0},
    {"GET", "/api/v1/notice", api_notice_get, WP_RIGHT_READ, 0},
    {"PUT", "/api/v1/notice", api_notice_put, WP_RIGHT_ADMIN, 0},
    {"GET", "/api/v1/notice/acks", api_notice_acks, WP_RIGHT_ADMIN, 0},
};

const wp_http_route *api_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}
