// Package idtoken signs the short-lived OIDC tokens of pipelines' idtoken
// var sources (((source:token))), as Concourse's idtoken credential
// provider: claims iss, iat, exp, aud, sub and team, pipeline, job,
// instance_vars. The hub publishes its discovery document and key set at
// /.well-known/openid-configuration and /.well-known/jwks.json, so that a
// cloud's identity federation can trust a job without a stored secret.
//
// Keys (one RSA, one P-256) live in the store, shared by every replica. The
// lifecycle replaces a key older than the rotation period and deletes the
// older ones once the newest is older than the grace period, so tokens in
// flight keep verifying: a key stays published while a token it signed can
// live.
package idtoken
