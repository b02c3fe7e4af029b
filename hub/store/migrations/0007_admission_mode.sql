-- A policy's admission answers block (enforce) or only warn.
ALTER TABLE policies ADD COLUMN admission_mode TEXT NOT NULL DEFAULT 'enforce' CHECK (admission_mode IN ('enforce', 'warn'));
