-- The keys that sign idtoken var sources' tokens (Concourse's
-- signing_keys): private keys in PKCS#8, published as a JWKS while kept.
CREATE TABLE signing_keys (
    id          BIGSERIAL PRIMARY KEY,
    kid         TEXT NOT NULL UNIQUE,
    alg         TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
