package server

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// The wall, active users and fly downloads: the small admin and session
// routes stock fly calls (get-wall, set-wall, clear-wall, active-users,
// sync).

func (s *Server) getWall(w http.ResponseWriter, r *http.Request, _ *caller) error {
	wall, err := s.store.GetWall(r.Context())
	if err != nil {
		return err
	}
	out := api.Wall{Message: wall.Message}
	if !wall.Expires.IsZero() {
		out.ExpiresIn = time.Until(wall.Expires).Round(time.Second)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) setWall(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var body api.Wall
	if err := readJSON(r, 64<<10, &body); err != nil {
		return err
	}
	if body.ExpiresIn < 0 {
		return errorf(http.StatusBadRequest, "expires_in must not be negative")
	}
	wall := store.Wall{Message: body.Message}
	if body.ExpiresIn > 0 {
		wall.Expires = time.Now().Add(body.ExpiresIn)
	}
	if err := s.store.SetWall(r.Context(), wall); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) clearWall(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := s.store.SetWall(r.Context(), store.Wall{}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// activeUsers lists who signed in since ?since=YYYY-MM-DD (default: the
// last two months, as Concourse).
func (s *Server) activeUsers(w http.ResponseWriter, r *http.Request, _ *caller) error {
	since := time.Now().AddDate(0, -2, 0)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return errorf(http.StatusBadRequest, "since %q: write a date as YYYY-MM-DD", v)
		}
		since = t
	}
	users, err := s.store.ActiveUsers(r.Context(), since)
	if err != nil {
		return err
	}
	out := []api.User{}
	for _, u := range users {
		out = append(out, api.User{ID: u.ID, Username: u.Username, Connector: u.Connector, LastLogin: u.LastLogin.Unix()})
	}
	return writeJSON(w, http.StatusOK, out)
}

var cliTargets = map[string]bool{"linux/amd64": true, "linux/arm64": true, "darwin/amd64": true, "darwin/arm64": true, "windows/amd64": true}

// cli serves the fly binary of a platform and arch from the hub's
// --cli-artifacts-dir: fly-PLATFORM-ARCH as a binary, or the fly in
// fly-PLATFORM-ARCH.tgz.
func (s *Server) cli(w http.ResponseWriter, r *http.Request, _ *caller) error {
	platform, arch := r.URL.Query().Get("platform"), r.URL.Query().Get("arch")
	if !cliTargets[platform+"/"+arch] {
		return errorf(http.StatusBadRequest, "no fly for platform %q and arch %q: this hub knows linux, darwin and windows on amd64 and arm64", platform, arch)
	}
	if s.cfg.CLIDir == "" {
		return errorf(http.StatusNotFound, "this hub serves no fly downloads: its operator sets --cli-artifacts-dir")
	}
	name := filepath.Join(s.cfg.CLIDir, "fly-"+platform+"-"+arch)
	if f, err := os.Open(name); err == nil {
		defer f.Close()
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(info.Size(), 10))
			_, _ = io.Copy(w, f)
			return nil
		}
	}
	f, err := os.Open(name + ".tgz")
	if errors.Is(err, os.ErrNotExist) {
		return errorf(http.StatusNotFound, "this hub has no fly for %s/%s in its --cli-artifacts-dir", platform, arch)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("read %s.tgz: %w", name, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("read %s.tgz: no fly in it (%v)", name, err)
		}
		if (h.Name == "fly" || h.Name == "./fly") && h.Typeflag == tar.TypeReg {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(h.Size, 10))
			_, _ = io.CopyN(w, tr, h.Size)
			return nil
		}
	}
}
