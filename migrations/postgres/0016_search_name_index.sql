-- A caller who may not see another user's email finds that user by name
-- only (README, "Field-level visibility"). For terms of three characters or
-- more this indexes the name part of `search_text` (the lower-cased name, a
-- space, the email) as `users_search_trgm` (0002) indexes the whole, so such
-- a search reads the name matches from here and the email matches of users
-- in the caller's scope from there, instead of reading every email match and
-- dropping most of them (a term like a mail domain matches nearly everyone).
--
-- The expression is `SEARCH_NAME` in src/read_models.rs, to the character:
-- the planner uses the index only for that expression (a test checks).
CREATE INDEX users_search_name_trgm ON users USING gin ((
    substr(search_text, 1, CASE WHEN length(search_text) > length(coalesce(email, ''))
        THEN length(search_text) - length(coalesce(email, '')) - 1 ELSE 0 END)
) gin_trgm_ops);
