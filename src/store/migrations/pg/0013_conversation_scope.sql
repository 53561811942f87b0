-- SPDX-License-Identifier: MIT
-- Conversations are seen through the employee who had them (issue: masked stays masked), not
-- through whoever owns the customer now. Keep the shape equal to sqlite/0013_conversation_scope.sql.

-- The explicit acts that hand a customer's history on (handover, transfer, assign, a claim
-- from the pool, a merge): employee_id may read source_employee_id's conversations with the
-- customer. A new owner gets its predecessor's grants too, so the history follows the customer
-- from hand to hand; the old owner's grants end unless a transfer kept its read access.
CREATE TABLE history_grants (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    customer_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    source_employee_id TEXT NOT NULL,
    via TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, employee_id, source_employee_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id),
    FOREIGN KEY (tenant_id, source_employee_id) REFERENCES employees (tenant_id, id)
);
CREATE INDEX history_grants_employee ON history_grants (tenant_id, employee_id, customer_id);

-- Which employees' devices have met a customer, and when first: a second one is a collision
-- (撞单, an alert for the managers over both), and each may read the record.
CREATE TABLE customer_contacts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    customer_id TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    first_us BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, employee_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id)
);
CREATE INDEX customer_contacts_employee ON customer_contacts (tenant_id, employee_id);

-- An alert about two employees (a collision): the other one, whose managers see it too.
ALTER TABLE alerts ADD COLUMN other_employee_id TEXT;
CREATE INDEX alerts_employee ON alerts (tenant_id, employee_id, ts_us);

-- What is already stored: every employee that met a customer...
INSERT INTO customer_contacts (tenant_id, customer_id, employee_id, first_us)
SELECT tenant_id, customer_id, employee_id, min(ts_us) FROM (
    SELECT tenant_id, customer_id, employee_id, ts_us FROM messages WHERE customer_id IS NOT NULL
    UNION ALL
    SELECT tenant_id, customer_id, employee_id, ts_us FROM calls WHERE customer_id IS NOT NULL
    UNION ALL
    SELECT tenant_id, customer_id, employee_id, ts_us FROM contact_events
    WHERE customer_id IS NOT NULL) AS met
GROUP BY tenant_id, customer_id, employee_id;

-- ... and a customer's owner keeps the history of every owner before it (what it could read
-- until now through ownership).
INSERT INTO history_grants (tenant_id, customer_id, employee_id, source_employee_id, via,
                            created_us)
SELECT e.tenant_id, e.customer_id, c.owner_employee_id, (CAST(e.details AS json) ->> 'from'),
       'upgrade', max(e.ts_us)
FROM customer_events e JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.customer_id
WHERE e.kind IN ('owner_changed', 'claimed', 'assigned') AND c.in_pool = 0
  AND (CAST(e.details AS json) ->> 'from') IS NOT NULL
  AND (CAST(e.details AS json) ->> 'from') <> c.owner_employee_id
  AND EXISTS (SELECT 1 FROM employees x WHERE x.tenant_id = e.tenant_id
              AND x.id = (CAST(e.details AS json) ->> 'from'))
GROUP BY e.tenant_id, e.customer_id, c.owner_employee_id, (CAST(e.details AS json) ->> 'from');
