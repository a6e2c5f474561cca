-- A user's self-declarations (Sunbird's `PATCH /api/user/v1/declarations`):
-- the JSON list of the last `DeclarationsChanged`, as text, like
-- `profile_extension` (migration 0028). NULL when the user never declared.
ALTER TABLE users ADD COLUMN declarations TEXT;
