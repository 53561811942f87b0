# SPDX-License-Identifier: MIT
# Issue 16's chain end to end, on both backends: WeCom settings through the API, an employee's
# wecom_userid, a signed JSON webhook and a WeCom group robot pointing to a receiver on loopback;
# an add_external_contact callback makes the customer, a del_external_contact callback raises
# customer_deleted, and the receiver gets it within seconds, signed with the webhook's secret,
# naming the kind and the customer, personal data masked as documented (the json as an admin
# sees it, the robot as a manager does). Callbacks are built by test_wecom_contact.py's WeCom
# algorithm, the receiver and the signature check are test_webhooks.py's.
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, check, created, login, run_backends  # noqa: E402
from test_wecom_contact import AES_KEY, CORP, SECRET, TOKEN, Callbacks, alerts  # noqa: E402
from test_webhooks import Receiver, json_sig_ok  # noqa: E402

HOOK_SECRET = "e2e-hook-secret-1"
PHONE = "13912345678"
NAME = "王女士 " + PHONE  # a name as salespeople write it, with the phone in it


def suite(store):
    rx = Receiver()
    srv = Server(store.data, store.db_args, now=None)  # real time: callbacks carry it
    try:
        run(store, srv, rx, store.backend)
    finally:
        srv.stop()
        rx.close()


def run(store, srv, rx, be):
    admin = login(srv, "admin")
    tenant = store.sql("SELECT id FROM tenants")
    top = store.sql("SELECT id FROM org_units")

    # --- WeCom settings and an employee with its UserID ---------------------------------------
    st, j, _ = srv.req("PUT", "/api/v1/integrations/wecom", admin, body={
        "corp_id": CORP, "callback_token": TOKEN, "encoding_aes_key": AES_KEY,
        "contact_secret": SECRET})
    check(st == 200 and j.get("callback_url", "").endswith("/api/v1/wecom/callback/" + tenant),
          "%s: PUT /api/v1/integrations/wecom: %s %s" % (be, st, j))
    emp = created(srv, admin, "/api/v1/employees", {
        "name": "张销售", "org_unit_id": top, "role": "sales", "username": "zhang",
        "password": PASSWORD}, "employee")["id"]
    st, j, _ = srv.req("PATCH", "/api/v1/employees/%s" % emp, admin,
                       body={"wecom_userid": "zhangsan"})
    check(st == 200 and j.get("wecom_userid") == "zhangsan",
          "%s: the employee's wecom_userid: %s %s" % (be, st, j))

    # --- a signed JSON webhook and a WeCom group robot on loopback ----------------------------
    h_json = created(srv, admin, "/api/v1/webhooks", {
        "url": rx.url("/json"), "format": "json", "events": ["alert.raised", "customer.deleted"],
        "secret": HOOK_SECRET, "allow_private": True}, "json webhook")
    check("secret" not in h_json, "%s: the given secret is not answered: %s" % (be, h_json))
    created(srv, admin, "/api/v1/webhooks", {
        "url": rx.url("/wecom"), "format": "wecom", "events": ["customer.deleted"],
        "allow_private": True, "console_url": "https://wp.example.com/"}, "wecom robot")

    # --- the customer: an add_external_contact callback, then named as salespeople do ---------
    cb = Callbacks(srv, tenant)
    st, body, _ = cb.event("add_external_contact", "zhangsan", "wmE2E1")
    check(st == 200 and body == "success", "%s: add_external_contact: %s %s" % (be, st, body))
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    cs = [c for c in j.get("items", []) if c["name"] == "wmE2E1"] if st == 200 else []
    if not check(len(cs) == 1 and cs[0]["owner_employee_id"] == emp,
                 "%s: the callback made the employee's customer: %s %s" % (be, st, j)):
        return
    cust = cs[0]["id"]
    st, j, _ = srv.req("PATCH", "/api/v1/customers/%s" % cust, admin, body={"name": NAME})
    check(st == 200 and j.get("name") == NAME, "%s: customer renamed: %s %s" % (be, st, j))
    time.sleep(1.5)
    check(rx.got("/json") == [] and rx.got("/wecom") == [],
          "%s: an added customer raises nothing: %s" % (be, rx.reqs))

    # --- del_external_contact: the alert, then the receiver within seconds --------------------
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmE2E1")
    check(st == 200 and body == "success", "%s: del_external_contact: %s %s" % (be, st, body))
    dels = alerts(srv, admin, "customer_deleted")
    check(len(dels) == 1 and dels[0]["customer_id"] == cust and dels[0]["employee_id"] == emp,
          "%s: a customer_deleted alert: %s" % (be, dels))
    alert_id = dels[0]["id"] if dels else None

    got = rx.wait("/json", 2, seconds=10)
    check(len(got) == 2, "%s: the json receiver got 2 events within 10 s: %d" % (be, len(got)))
    check(all(json_sig_ok(r, HOOK_SECRET) for r in got),
          "%s: X-Workphone-Signature verifies with the webhook's secret: %s" %
          (be, [r["headers"].get("X-Workphone-Signature") for r in got]))
    check(not any(json_sig_ok(r, HOOK_SECRET + "x") for r in got),
          "%s: ... and not with another secret" % be)
    for r in got:  # t is the time of the attempt: a receiver refuses one far from now
        t = dict(p.split("=", 1) for p in r["headers"]["X-Workphone-Signature"].split(","))["t"]
        check(abs(int(t) - time.time()) < 60, "%s: the signature's t is now: %s" % (be, t))
    bodies = {}
    for r in got:
        b = json.loads(r["body"])
        bodies[b["event"]] = b
        check(r["headers"].get("X-Workphone-Event") == b["event"] and
              r["headers"].get("X-Workphone-Delivery"),
              "%s: the event and delivery headers: %s" % (be, r["headers"]))
    check(sorted(bodies) == ["alert.raised", "customer.deleted"],
          "%s: alert.raised and customer.deleted: %s" % (be, sorted(bodies)))
    check(len({b["id"] for b in bodies.values()}) == 2, "%s: two events, two ids" % be)
    for ev, b in sorted(bodies.items()):
        d = b["data"]
        check(set(b) == {"id", "event", "ts", "tenant", "data"} and b["tenant"] == tenant,
              "%s: %s is {id, event, ts, tenant, data}: %s" % (be, ev, b))
        check(d["alert"]["kind"] == "customer_deleted" and d["alert"]["id"] == alert_id and
              d["alert"]["customer_id"] == cust,
              "%s: %s names the alert kind customer_deleted: %s" % (be, ev, d["alert"]))
        check(d["customer"]["id"] == cust and d["console_path"] == "/customers/" + cust,
              "%s: %s names the customer: %s" % (be, ev, d))
        check(d["employee"]["id"] == emp and d["employee"]["name"] == "张销售",
              "%s: %s names the employee: %s" % (be, ev, d["employee"]))
        # the json is what an admin reads, and an admin's role has view_pii on
        check(d["customer"]["name"] == NAME,
              "%s: %s carries the customer as an admin sees it: %s" % (be, ev, d["customer"]))

    # the robot's view: a manager's, who reads the customer's name with its phone masked
    created(srv, admin, "/api/v1/employees", {
        "name": "李经理", "org_unit_id": top, "role": "manager", "username": "li",
        "password": PASSWORD}, "manager")
    st, j, _ = srv.req("GET", "/api/v1/customers/%s" % cust, login(srv, "li"))
    seen_by_manager = j.get("name") if st == 200 else None
    check(seen_by_manager and seen_by_manager.startswith("王女士 ") and
          PHONE not in seen_by_manager,
          "%s: a manager reads the name masked: %s %s" % (be, st, j))
    robot = rx.wait("/wecom", 1, seconds=10)
    check(len(robot) == 1, "%s: the WeCom robot got one message: %d" % (be, len(robot)))
    if robot:
        b = json.loads(robot[0]["body"])
        c = b.get("markdown", {}).get("content", "")
        check(b.get("msgtype") == "markdown" and "客户被删除" in c and "删除客户" in c and
              "张销售" in c and "时间" in c,
              "%s: a WeCom markdown message in Chinese: %s" % (be, c))
        # markdown's characters defused as their full-width forms (docs/internals/webhooks.md)
        line = "\n> 客户：%s\n" % (seen_by_manager or "").replace("*", "＊")
        check(PHONE not in c and line in c,
              "%s: the customer as a manager reads it (%s): %s" % (be, seen_by_manager, c))
        check("https://wp.example.com/customers/%s" % cust in c,
              "%s: a link to the customer in the console: %s" % (be, c))
    time.sleep(1.5)
    check(len(rx.got("/json")) == 2 and len(rx.got("/wecom")) == 1,
          "%s: each event delivered once: %d %d" % (be, len(rx.got("/json")),
                                                    len(rx.got("/wecom"))))

    # the admin role's view_pii off: the json of events made after is masked as well
    st, j, _ = srv.req("PUT", "/api/v1/roles/admin", admin, body={"view_pii": False})
    check(st == 200, "%s: the admin role's view_pii off: %s %s" % (be, st, j))
    st, body, _ = cb.event("add_external_contact", "zhangsan", "wmE2E2")
    st, j, _ = srv.req("GET", "/api/v1/customers?limit=200", admin)
    cs = [c for c in j.get("items", []) if c["name"] == "wmE2E2"] if st == 200 else []
    if not check(len(cs) == 1, "%s: a second customer: %s %s" % (be, st, j)):
        return
    st, j, _ = srv.req("PATCH", "/api/v1/customers/%s" % cs[0]["id"], admin, body={"name": NAME})
    check(st == 200, "%s: the second customer renamed: %s %s" % (be, st, j))
    st, body, _ = cb.event("del_external_contact", "zhangsan", "wmE2E2")
    check(st == 200 and body == "success", "%s: the second del: %s %s" % (be, st, body))
    got = rx.wait("/json", 4, seconds=10)[2:]
    check(len(got) == 2 and all(json_sig_ok(r, HOOK_SECRET) for r in got),
          "%s: the second deletion's 2 events, signed: %d" % (be, len(got)))
    for r in got:
        c = json.loads(r["body"])["data"]["customer"]
        check(c["id"] == cs[0]["id"] and c["name"] == seen_by_manager,
              "%s: without view_pii the json is masked too: %s" % (be, c))


if __name__ == "__main__":
    sys.exit(run_backends(suite, "wecomhook"))
