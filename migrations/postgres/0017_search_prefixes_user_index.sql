-- A user's prefix rows by (id, role_id). The role-grant trigger's "are they
-- there already?" probe (`s.id = g.id AND s.role_id = g.role_id`) used
-- user_search_prefixes_order instead, whose leading role_id let it scan the
-- role's whole range for every granted role: 12 ms a row at 1M users, 5.5 s
-- for a batch of 500 grants, hours to seed 1M users. With both columns the
-- probe is one index lookup (6 ms for the same 500); lookups by id alone
-- (a user's rows, `roster_unlist_search_prefixes`) use its first column.
DROP INDEX user_search_prefixes_user;
CREATE INDEX user_search_prefixes_user ON user_search_prefixes (id, role_id);
