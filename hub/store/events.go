package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Event is one build event: Concourse's event type and version, and its payload.
type Event struct {
	Seq     int64
	Type    string
	Version string
	Payload json.RawMessage
}

// appendEvents adds events at the end of a build's log within tx, in order,
// in one statement whatever their number. The sequence numbers come from
// the build's own counter, so only events of the same build contend. Events
// without a type are skipped.
func appendEvents(ctx context.Context, tx pgx.Tx, buildID int64, events ...Event) error {
	types, versions, payloads := eventColumns(events)
	if len(types) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		WITH next AS (UPDATE builds SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq - $2 AS last)
		`+insertEvents("next", 3),
		buildID, len(types), types, versions, payloads)
	return err
}

// insertEvents is the statement that stores events of the build $1 in
// order after the sequence number last of the query source (which took
// their numbers from the build's counter): their columns (eventColumns)
// are the parameters $p, $p+1 and $p+2. No rows in source, no events.
func insertEvents(source string, p int) string {
	return fmt.Sprintf(`INSERT INTO build_events (build_id, seq, event_type, version, payload)
		SELECT $1, %[1]s.last + e.n, e.event_type, e.version, e.payload::JSONB
		FROM %[1]s, unnest($%[2]d::TEXT[], $%[3]d::TEXT[], $%[4]d::TEXT[]) WITH ORDINALITY AS e (event_type, version, payload, n)`,
		source, p, p+1, p+2)
}

// eventColumns are the events with a type as arrays of their columns.
func eventColumns(events []Event) (types, versions, payloads []string) {
	types = make([]string, 0, len(events))
	versions = make([]string, 0, len(events))
	payloads = make([]string, 0, len(events))
	for _, e := range events {
		if e.Type == "" {
			continue
		}
		types, versions, payloads = append(types, e.Type), append(versions, e.Version), append(payloads, string(e.Payload))
	}
	return types, versions, payloads
}

// AppendEvents adds events at the end of a build's log, in one statement.
func (s *Store) AppendEvents(ctx context.Context, buildID int64, events ...Event) error {
	if err := s.Tx(ctx, func(tx pgx.Tx) error { return appendEvents(ctx, tx, buildID, events...) }); err != nil {
		return fmt.Errorf("append events to build %d: %w", buildID, err)
	}
	return nil
}

// Events returns up to limit events of a build after sequence number after.
func (s *Store) Events(ctx context.Context, buildID, after int64, limit int) ([]Event, error) {
	return s.eventRows(ctx, `SELECT seq, event_type, version, payload FROM build_events
		WHERE build_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, buildID, after, limit)
}

// EventsBefore reads the build's events before sequence number before,
// newest first, at most limit of them.
func (s *Store) EventsBefore(ctx context.Context, buildID, before int64, limit int) ([]Event, error) {
	return s.eventRows(ctx, `SELECT seq, event_type, version, payload FROM build_events
		WHERE build_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, buildID, before, limit)
}

// EventsNotOf reads the build's events up to sequence number upTo that are
// not of type typ, in order.
func (s *Store) EventsNotOf(ctx context.Context, buildID int64, typ string, upTo int64) ([]Event, error) {
	return s.eventRows(ctx, `SELECT seq, event_type, version, payload FROM build_events
		WHERE build_id = $1 AND event_type <> $2 AND seq <= $3 ORDER BY seq LIMIT 100000`, buildID, typ, upTo)
}

func (s *Store) eventRows(ctx context.Context, query string, args ...any) ([]Event, error) {
	out, err := collect(ctx, func() (pgx.Rows, error) { return s.reads.Query(ctx, query, args...) }, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.Seq, &e.Type, &e.Version, &e.Payload)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read events of build %d: %w", args[0], err)
	}
	return out, nil
}
