-- Inline read models (issue 17): an event whose read model was applied in
-- the transaction that appended it says so, and the projection runner
-- passes over it. Older rows are 0: the runner applies them as before.
ALTER TABLE events ADD COLUMN applied_inline integer NOT NULL DEFAULT 0;

-- An inline write first asks whether its read model still has such older
-- events to apply (they must go first); this index answers from the
-- runner's checkpoint on. Rows written inline never enter it.
CREATE INDEX events_not_applied_inline ON events (aggregate_type, position) WHERE applied_inline = 0;
