-- The profile extension (Sunbird's `dob`, `profileLocation`,
-- `profileUserType(s)`, `framework`): the JSON object of the user's last
-- `UserRegistered` / `ProfileUpdated` extension, as text (PostgreSQL's jsonb
-- refuses the `\u0000` escape a NUL in a value serialises to; text keeps
-- it). NULL when the user has none. Read by key only: no index.
ALTER TABLE users ADD COLUMN profile_extension TEXT;
