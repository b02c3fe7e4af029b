package server

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/signin"
)

// The sign-in pages: a plain login page with the local users' form and, when
// the hub has an OIDC provider, a link to sign in there; the provider's
// callback; and the hand-off to fly login's local port (fly prints
// EXTERNAL-URL/login?fly_port=N and waits for the token there), or the token
// to paste into fly when there is no port.

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Switchyard: sign in</title></head>
<body><h1>Sign in to Switchyard</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/sky/login">
<input type="hidden" name="fly_port" value="{{.FlyPort}}">
<input type="hidden" name="redirect_uri" value="{{.Redirect}}">
<label>User <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
{{if .OIDC}}<p><a id="oidc" href="/sky/login/oidc?fly_port={{.FlyPort}}&amp;redirect_uri={{.Redirect}}">Sign in with {{.OIDCName}}</a></p>{{end}}
</body></html>
`))

var tokenPage = template.Must(template.New("token").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Switchyard: signed in</title></head>
<body><h1>Signed in as {{.User}}</h1>
<p>To log fly in, paste this where fly login asks for a token:</p>
<pre id="token">{{.Token}}</pre>
</body></html>
`))

type loginView struct {
	Error    string
	FlyPort  int
	Redirect string // a page of the UI to go back to, signed in by cookie
	OIDC     bool
	OIDCName string
}

func flyPort(v string) int {
	port, err := strconv.Atoi(v)
	if err != nil || port <= 0 || port > 65535 {
		return 0
	}
	return port
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	return s.showLogin(w, http.StatusOK, flyPort(q.Get("fly_port")), localRedirect(q.Get("redirect_uri")), "")
}

func (s *Server) showLogin(w http.ResponseWriter, status int, port int, redirect, msg string) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	return loginPage.Execute(w, loginView{Error: msg, FlyPort: port, Redirect: redirect, OIDC: s.cfg.OIDC != nil, OIDCName: s.cfg.OIDCName})
}

// loginLocal signs a local user in from the login page's form.
func (s *Server) loginLocal(w http.ResponseWriter, r *http.Request, _ *caller) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return errorf(http.StatusBadRequest, "malformed form")
	}
	port, redirect := flyPort(r.PostForm.Get("fly_port")), localRedirect(r.PostForm.Get("redirect_uri"))
	user, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	addr, now := address(r), time.Now()
	if wait := s.signins.wait(addr, now); wait > 0 {
		return s.showLogin(w, http.StatusTooManyRequests, port, redirect, fmt.Sprintf("Too many failed sign-ins from this address: try again in %s.", wait.Round(time.Second)))
	}
	if !s.cfg.Users.Check(user, password) {
		if wait := s.signins.failed(addr, now); wait > 0 {
			s.log.Warn("failed sign-ins from an address are slowed down", slog.String("address", addr), slog.Duration("wait", wait))
		}
		return s.showLogin(w, http.StatusUnauthorized, port, redirect, "Invalid username or password.")
	}
	s.signins.succeeded(addr)
	return s.finishLogin(w, r, auth.Claims{User: user, Connector: "local"}, port, redirect)
}

// loginOIDC sends the browser to the OIDC provider.
func (s *Server) loginOIDC(w http.ResponseWriter, r *http.Request, _ *caller) error {
	port, redirect := flyPort(r.URL.Query().Get("fly_port")), localRedirect(r.URL.Query().Get("redirect_uri"))
	if s.cfg.OIDC == nil {
		return s.showLogin(w, http.StatusNotFound, port, redirect, "This hub has no OIDC provider: sign in with a local user.")
	}
	st := signin.NewState(port, redirect, time.Now())
	to, err := s.cfg.OIDC.AuthURL(r.Context(), st, st.Seal(s.stateKey))
	if err != nil {
		s.log.Warn("OIDC sign-in", slog.String("error", err.Error()))
		return s.showLogin(w, http.StatusBadGateway, port, redirect, "Sign-in through OIDC failed: "+err.Error()+". Local users can still sign in.")
	}
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// oidcCallback finishes an OIDC sign-in.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ *caller) error {
	q := r.URL.Query()
	st, err := signin.OpenState(s.stateKey, q.Get("state"), time.Now())
	if err != nil {
		return s.showLogin(w, http.StatusBadRequest, 0, "", err.Error())
	}
	if e := q.Get("error"); e != "" {
		return s.showLogin(w, http.StatusUnauthorized, st.FlyPort, localRedirect(st.Redirect), fmt.Sprintf("The OIDC provider refused the sign-in: %s %s", e, q.Get("error_description")))
	}
	if s.cfg.OIDC == nil {
		return s.showLogin(w, http.StatusNotFound, st.FlyPort, localRedirect(st.Redirect), "This hub has no OIDC provider.")
	}
	id, err := s.cfg.OIDC.Identity(r.Context(), q.Get("code"), st)
	if err != nil {
		s.log.Warn("OIDC sign-in", slog.String("error", err.Error()))
		return s.showLogin(w, http.StatusUnauthorized, st.FlyPort, localRedirect(st.Redirect), "Sign-in through OIDC failed: "+err.Error()+".")
	}
	return s.finishLogin(w, r, auth.Claims{User: id.User, Connector: "oidc", Groups: id.Groups}, st.FlyPort, localRedirect(st.Redirect))
}

// finishLogin issues the token and hands it to fly's local port, or to the
// browser's session when a page asked to sign in (redirect), or shows it
// to paste.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, c auth.Claims, port int, redirect string) error {
	tok, _, err := s.tokens.issue(r.Context(), c)
	if err != nil {
		return err
	}
	if err := s.store.RecordLogin(r.Context(), c.User, c.Connector); err != nil {
		s.log.Warn("record a sign-in", slog.String("user", c.User), slog.String("error", err.Error()))
	}
	if port > 0 {
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/?token=%s", port, url.QueryEscape("bearer "+tok)), http.StatusFound)
		return nil
	}
	if redirect != "" {
		s.startSession(w, r, tok, redirect)
		return nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return tokenPage.Execute(w, struct{ User, Token string }{c.User, "bearer " + tok})
}

// flySuccess is where fly sends a browser that reached its port.
func (s *Server) flySuccess(w http.ResponseWriter, r *http.Request, _ *caller) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := fmt.Fprint(w, "<!doctype html><title>Switchyard</title><p>fly is logged in: you may close this page.</p>")
	return err
}
