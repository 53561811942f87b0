-- SPDX-License-Identifier: MIT
-- What a won customer is worth: the amount of its deal in fen (分), set with the stage deal
-- (PATCH /api/v1/customers/{id}) and summed by the funnel and conversion analytics. NULL: no
-- amount given. Keep the shape equal to pg/0019_deal_amount.sql.
ALTER TABLE customers ADD COLUMN deal_amount_fen INTEGER;
