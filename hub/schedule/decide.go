package schedule

// Job is the state of a job that the rules read, as of one transaction.
type Job struct {
	Paused      bool  // the job or its pipeline
	MaxInFlight int64 // 0: unbounded; serial jobs and serial groups have 1 or more
	// InputsOK is true when every input resolved; NewInputs when a trigger
	// input has a version the job has not had yet.
	InputsOK, NewInputs bool
	// HasNext says the resolution left versions for a later build (version:
	// every): the job is asked to be scheduled again once a build starts.
	HasNext bool
	// Pending are the job's pending builds not started yet, oldest first;
	// MorePending says there are more than these (the read is bounded).
	Pending     []Pending
	MorePending bool
	// Running counts the started builds (and those given their inputs) of
	// the job and of the jobs sharing a serial group with it.
	Running int64
	// OldestPeerPending is the id of the oldest pending build of another
	// job of the job's serial groups; 0 when there is none.
	OldestPeerPending int64
}

// Pending is a build waiting to start.
type Pending struct {
	ID int64
	// Rerun says it reruns another build and takes that build's inputs,
	// which exist when OriginalHasInputs.
	Rerun, OriginalHasInputs bool
}

// Decision is what to do.
type Decision struct {
	// Create says to create a pending build for the new trigger inputs.
	Create bool
	// Start lists the builds to start, in order. A Start with ID 0 is the
	// build Create makes. A build that is not a rerun takes the resolved
	// inputs, with their first-occurrence flags when FirstOccurrence (only
	// the first such build does); a rerun takes its original's.
	Start []Start
	// Again asks for the job to be scheduled once more.
	Again bool
}

// Start is a build to start.
type Start struct {
	ID              int64
	Rerun           bool
	FirstOccurrence bool
}

// Decide applies the rules:
//   - a paused job (or pipeline) creates and starts nothing;
//   - new trigger inputs that all resolved create a build, unless a pending
//     build waits already: one is enough, it takes the newest inputs when it
//     starts (Concourse's rule);
//   - pending builds start oldest first, each while the job and its serial
//     group peers run fewer than max_in_flight builds and no peer has an
//     older build waiting (max_in_flight 0 bounds nothing);
//   - a rerun starts with its original's inputs; one whose original has
//     none stays pending and the next build may start;
//   - a build that is not a rerun waits while inputs do not resolve, and so
//     do all builds after it;
//   - with versions left for a later build (HasNext), a start asks for the
//     job to be scheduled again; so does reaching the end of a bounded read
//     of pending builds (MorePending), for the ones after it.
func Decide(j Job) Decision {
	var d Decision
	if j.Paused {
		return d
	}
	pending := j.Pending
	if j.InputsOK && j.NewInputs && len(pending) == 0 {
		d.Create = true
		pending = []Pending{{}}
	}
	running := j.Running
	first := true
	held := false // a rule stopped the starts before the end of pending
	for _, b := range pending {
		if j.MaxInFlight > 0 && (running >= j.MaxInFlight || olderPeer(j.OldestPeerPending, b.ID)) {
			held = true
			break
		}
		if b.Rerun {
			if !b.OriginalHasInputs {
				continue
			}
			d.Start = append(d.Start, Start{ID: b.ID, Rerun: true})
		} else {
			if !j.InputsOK {
				held = true
				break
			}
			d.Start = append(d.Start, Start{ID: b.ID, FirstOccurrence: first})
			first = false
		}
		running++
	}
	d.Again = (j.HasNext && len(d.Start) > 0) || (j.MorePending && !held)
	return d
}

// olderPeer tells whether a peer's pending build is older than build id (0:
// the build about to be created, newer than any).
func olderPeer(peer, id int64) bool {
	return peer != 0 && (id == 0 || peer < id)
}
