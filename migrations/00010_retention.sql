-- The retention trims processed_messages and processed_commands by age: BRIN indexes on their
-- times, tiny and cheap to keep since rows arrive in time order.
-- +goose Up
CREATE INDEX processed_messages_processed_at ON processed_messages USING brin (processed_at);
CREATE INDEX processed_commands_processed_at ON processed_commands USING brin (processed_at);

-- +goose Down
DROP INDEX processed_commands_processed_at;
DROP INDEX processed_messages_processed_at;
