// Package placement chooses the spoke a step runs on: one input document
// (the step, its build, its input artifacts and where they live, and every
// candidate spoke), then filter → score → select. Built-in plugins filter by
// health, team or pool, Concourse tags and capacity, and score by data
// locality and spread; policies (package policy) filter and score too, each
// evaluated once per step over all candidates. Decide is pure: a snapshot in,
// a decision with every spoke's reasons and scores out.
package placement
