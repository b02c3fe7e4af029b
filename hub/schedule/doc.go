// Package schedule holds the rules that decide, for one job at one
// scheduling request, which builds to create and which pending builds to
// start: pauses, Concourse's one-pending-trigger rule, oldest first,
// reruns, max_in_flight and serial groups.
//
// Decide is a pure function of the job's state: it reads no database and
// keeps no state. The store reads the state it needs and applies the answer
// in the same SERIALIZABLE transaction (store.SaveResolution); the
// input-version algorithm, which resolves the inputs, is not here.
package schedule
