-- Sunbird's managed users: the user who manages each one (none for most
-- users), and the index that lists a manager's managed users.
ALTER TABLE users ADD COLUMN managed_by text;
CREATE INDEX users_managed_by ON users (managed_by, id) WHERE managed_by IS NOT NULL;
