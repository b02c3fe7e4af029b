-- Builds of an untrusted pipeline (one that builds forks' pull requests, say)
-- are placed with build.trusted = false, for policies to keep them apart.
ALTER TABLE pipelines ADD COLUMN untrusted BOOLEAN NOT NULL DEFAULT false;
