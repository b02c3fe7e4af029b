// Package cli is fly: Concourse fly 8.2's commands, flags, output and ~/.flyrc,
// against a Switchyard hub (or Concourse). cmd/fly only calls Run.
package cli
