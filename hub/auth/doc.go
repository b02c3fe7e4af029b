// Package auth is the hub's identity: local users from flags, bearer tokens
// signed by the hub, and Concourse's team roles (owner ⊃ member ⊃
// pipeline-operator ⊃ viewer). It decides nothing about routes; the server
// declares the role each route needs and asks here what a caller has.
package auth
