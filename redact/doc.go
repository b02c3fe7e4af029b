// Package redact replaces secret values in a step's output with
// ((redacted)): each value's lines (trimmed, longer than one byte) and their
// base64, hex and URL-encoded forms, also when the output splits them
// across writes. It is hygiene for logs, not a control: a step that holds a
// secret can always find a way to print it.
//
// The spoke redacts, since it is the one that sees the output; the hub
// tells it the values with each step.
package redact
