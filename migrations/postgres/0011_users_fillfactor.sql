-- Room on every page of `users` for an updated row version, so an update
-- that changes no indexed column (a login's last_logged_in_at, a profile's
-- about or image) is a HOT update: no new entry in any of the table's five
-- indexes, the trigram GIN among them. Pages written from now on keep it
-- (a replay rewrites them all); full pages fill up again only if rows grow.
ALTER TABLE users SET (fillfactor = 85);
