-- The wall: one message for every user, until it expires (NULL: never).
CREATE TABLE wall (
    id         BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    message    TEXT NOT NULL,
    expires_at TIMESTAMPTZ
);
-- users.last_login (0001) says who signed in when (fly active-users).
CREATE INDEX users_last_login ON users (last_login);
