-- `roster keys rotate`: the key without retires_at is current and signs;
-- the keys it replaced verify, and stay in the JWKS, until retires_at.
ALTER TABLE signing_keys ADD COLUMN retires_at text;
-- At most one current key, also when two rotations or two first starts race.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retires_at IS NULL)) WHERE retires_at IS NULL;
