-- Sunbird's search orders and ranges (src/http/sunbird/search.rs):
-- `users_created` serves `sort_by: {createdDate}` and `createdDate` ranges
-- (a range or an ordered read of the index, whatever the status; the
-- column is written once, at registration, so it costs no update);
-- `users_organization` serves a `rootOrgId` filter as one range in name
-- order, and its status facet, instead of reading every user in name order
-- to find a small organisation's few.
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_organization ON users (organization_id, status, name, id);
