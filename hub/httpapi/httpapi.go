// Package httpapi is how the hub's HTTP handlers answer: errors with the
// status they answer with, in the JSON shapes fly parses, and JSON bodies
// read within a bound. The user-facing API (hub/server) and the
// spoke-facing one (hub/gateway) share it.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// Error is an error with the status it answers with.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf is an Error of status.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// NotFound says what was not found, with 404.
func NotFound(what string) error { return Errorf(http.StatusNotFound, "%s not found", what) }

// WriteError answers with a JSON body naming the problem: an Error with its
// status, store.ErrNotFound with 404, anything else with 500 (and a log
// line). 404s use the shape fly parses for its "not found" messages.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var he *Error
	if !errors.As(err, &he) {
		if errors.Is(err, store.ErrNotFound) {
			he = &Error{Status: http.StatusNotFound, Msg: err.Error()}
		} else {
			log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
			he = &Error{Status: http.StatusInternalServerError, Msg: "internal error: " + err.Error()}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(he.Status)
	if he.Status == http.StatusNotFound {
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"detail": he.Msg}}})
		return
	}
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Errors: []string{he.Msg}})
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// ReadJSON decodes a request body of at most limit bytes.
func ReadJSON(r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "malformed request body: %v", err)
	}
	return nil
}
