// Package auth is the hub's identity: local users from flags, opaque bearer
// tokens in Concourse's format (the hub keeps their claims under their hash,
// so a token is revoked by deleting it), and Concourse's team roles (owner ⊃
// member ⊃ pipeline-operator ⊃ viewer). It decides nothing about routes; the
// server declares the role each route needs and asks here what a caller has.
package auth
