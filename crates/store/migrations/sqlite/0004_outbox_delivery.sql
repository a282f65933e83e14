-- Delivery of outbox messages through SMTP and an SMS provider. The message and its delivery
-- state stay in `doc`; these columns are what senders query and compare-and-set on. Rows from
-- before read as RECORDED (kept in the outbox only), which is what they were.
ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'RECORDED';
ALTER TABLE outbox ADD COLUMN next_attempt_ms BIGINT;
-- Only PENDING messages are ever looked up by due time; the rest stay out of the index.
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE status = 'PENDING';
