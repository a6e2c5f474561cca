-- Inline read models (issue 17): an event whose read model was applied in
-- the transaction that appended it says so, and the projection runner
-- passes over it. Older rows are false: the runner applies them as before.
-- A constant default: no table rewrite.
ALTER TABLE events ADD COLUMN applied_inline boolean NOT NULL DEFAULT false;
