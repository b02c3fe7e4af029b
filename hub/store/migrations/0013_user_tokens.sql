-- Users' access tokens are opaque (Concourse's format); the hub keeps each
-- token's claims under its SHA-256 until it expires. Revoking a token is
-- deleting its row.
CREATE TABLE user_tokens (
    hash       TEXT PRIMARY KEY,
    claims     JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);
