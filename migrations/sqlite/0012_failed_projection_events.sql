-- Events a projection could not apply (issue 11). The runner retries a
-- failing batch, then applies its events one by one; an event the read
-- tables refuse is recorded here and skipped in the same transaction that
-- moves the checkpoint past it, so one bad event is a report, not an
-- outage. `roster projections failed` lists them, `roster projections
-- retry` applies them again and removes the rows that now apply.
CREATE TABLE failed_projection_events (
    projection     text   NOT NULL,
    position       bigint NOT NULL,
    transaction_id bigint NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL,
    event_type     text   NOT NULL,
    error          text   NOT NULL,
    attempts       bigint NOT NULL DEFAULT 1,
    failed_at      text   NOT NULL,
    last_tried_at  text   NOT NULL,
    PRIMARY KEY (projection, position)
);
-- A write's read-your-writes wait looks up its own transaction's events.
CREATE INDEX failed_projection_events_write ON failed_projection_events (transaction_id, position);
