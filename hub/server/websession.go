package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The web UI's session: after a sign-in from a page, the token lives in
// the skymarshal_auth cookie (HttpOnly, SameSite=Lax, as Concourse names
// it) and a CSRF token in skymarshal_csrf; a request that changes anything
// with the cookie must send that token as X-Csrf-Token (double submit), so
// that another site cannot act as the user.

const (
	authCookie = "skymarshal_auth"
	csrfCookie = "skymarshal_csrf"
	csrfHeader = "X-Csrf-Token"
)

// cookieToken is the session cookie's token, if any.
func cookieToken(r *http.Request) (string, bool) {
	c, err := r.Cookie(authCookie)
	if err != nil {
		return "", false
	}
	scheme, value, found := strings.Cut(strings.Trim(c.Value, `"`), " ")
	return value, found && strings.EqualFold(scheme, "bearer") && value != ""
}

// csrfOK tells whether a request authenticated by cookie may go on: reads
// always, anything else only with the session's CSRF token.
func csrfOK(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	c, err := r.Cookie(csrfCookie)
	sent := r.Header.Get(csrfHeader)
	return err == nil && c.Value != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(sent)) == 1
}

// localRedirect is where a page's sign-in goes back to: a path of this
// hub, never another site ("" when it is not one).
func localRedirect(v string) string {
	u, err := url.Parse(v)
	if err != nil || v == "" || !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, `/\`) ||
		u.Scheme != "" || u.Host != "" || strings.ContainsAny(v, "\r\n\x00") {
		return ""
	}
	return v
}

// startSession sets the session's cookies and sends the browser to to.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, token, to string) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	secure := strings.HasPrefix(s.externalURL(r), "https://")
	expires := time.Now().Add(s.cfg.TokenTTL)
	// Go quotes the value (it holds a space) as Concourse's "bearer TOKEN".
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: "bearer " + token, Path: "/", Expires: expires, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: hex.EncodeToString(b), Path: "/", Expires: expires, Secure: secure, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// endSession clears the session's cookies.
func endSession(w http.ResponseWriter) {
	for _, name := range []string{authCookie, csrfCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1})
	}
}
