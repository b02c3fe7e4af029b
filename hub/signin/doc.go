// Package signin is the hub's side of signing in through an OpenID Connect
// provider: the hub is a relying party (authorization code flow with PKCE
// and a nonce), reads the user's name and groups from the ID token's claims,
// and carries what the round trip needs (fly's local port, the nonce, the
// PKCE verifier) in a state it signs, so any hub replica can finish a
// sign-in another began.
//
// It does not issue the hub's own tokens or serve pages; hub/server does.
package signin
