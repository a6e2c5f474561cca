-- Inline read models (issue 17): an event whose read model was applied in
-- the transaction that appended it says so, and the projection runner
-- passes over it. Older rows are 0: the runner applies them as before.
ALTER TABLE events ADD COLUMN applied_inline integer NOT NULL DEFAULT 0;
