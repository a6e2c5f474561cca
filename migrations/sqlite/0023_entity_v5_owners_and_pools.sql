-- Entity v5: the users who own a user (`user/owner/update`), in the order
-- they were added, and the pool a user is in (`user/pool/update`: alive,
-- dead or public; none until set).
CREATE TABLE user_owners (
    user_uuid  text NOT NULL,
    owner_uuid text NOT NULL,
    added_at   text NOT NULL,
    PRIMARY KEY (user_uuid, owner_uuid)
);
ALTER TABLE users ADD COLUMN pool text;
