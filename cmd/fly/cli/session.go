package cli

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/api"
)

// client loads the target and checks the server's version as fly does: a major
// or minor difference refuses to run, a patch difference warns.
func (e *env) client(ctx context.Context) (*api.Client, *Target, error) {
	if e.target == "" {
		return nil, nil, errors.New("no target specified. specify the target with -t or log in like so:\n\nfly -t (alias) login -c (concourse url)")
	}
	rc, err := loadRC()
	if err != nil {
		return nil, nil, err
	}
	t, ok := rc.Targets[e.target]
	if !ok {
		return nil, nil, fmt.Errorf("unknown target: %s", e.target)
	}
	c := &api.Client{URL: t.API, HTTP: httpClient(t.Insecure)}
	if t.Token != nil {
		c.Token = t.Token.Value
	}
	var info api.Info
	if err := c.Get(ctx, "/api/v1/info", &info); err != nil {
		return nil, nil, err
	}
	if err := checkVersion(info.Version, e); err != nil {
		return nil, nil, err
	}
	return c, t, nil
}

func httpClient(insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked with -k
	}
	return &http.Client{Transport: tr}
}

// outOfSync is fly's message for a server of another version.
func outOfSync(server, target string) string {
	return fmt.Sprintf("fly version (%s) is out of sync with the target (%s). to sync up, run the following:\n\n    fly -t %s sync\n", api.Version, server, target)
}

func checkVersion(server string, e *env) error {
	if server == api.Version {
		return nil
	}
	mine, theirs := strings.Split(api.Version, "."), strings.Split(strings.SplitN(server, "-", 2)[0], ".")
	if len(theirs) != 3 {
		return fmt.Errorf("server version %q: Wrong number of components", server)
	}
	msg := outOfSync(server, e.target)
	if mine[0] != theirs[0] || mine[1] != theirs[1] {
		return errors.New(msg + "\ncowardly refusing to run due to significant version discrepancy")
	}
	fmt.Fprintln(e.stderr, "WARNING:\n\n"+msg)
	return nil
}

func login(ctx context.Context, e *env, args []string) error {
	f := newFlags("login", e)
	apiURL := f.str("c", "concourse-url", "URL of the hub")
	team := f.str("n", "team-name", "team to log in to")
	user := f.str("u", "username", "username")
	password := f.str("p", "password", "password")
	insecure := f.boolean("k", "insecure", "skip TLS verification")
	if err := f.Parse(args); err != nil {
		return err
	}
	if e.target == "" {
		return errors.New("the required flag `-t, --target' was not specified")
	}
	rc, err := loadRC()
	if err != nil {
		return err
	}
	t := rc.Targets[e.target]
	if t == nil {
		t = &Target{Team: "main"}
	}
	if *apiURL != "" {
		t.API = strings.TrimSuffix(*apiURL, "/")
		t.Team = "main"
	}
	if *team != "" {
		t.Team = *team
	}
	if *insecure {
		t.Insecure = true
	}
	if t.API == "" {
		return errors.New("the required flag `-c, --concourse-url' was not specified")
	}
	if *user == "" || *password == "" {
		return errors.New("this fly logs in with -u and -p (the browser flow is not built yet)")
	}
	fmt.Fprintf(e.stdout, "logging in to team '%s'\n\n", t.Team)
	hc := httpClient(t.Insecure)
	c := &api.Client{URL: t.API, HTTP: hc}
	var info api.Info
	if err := c.Get(ctx, "/api/v1/info", &info); err != nil {
		return err
	}
	if info.Version != api.Version {
		fmt.Fprintf(e.stderr, "WARNING:\n\n%s\n", outOfSync(info.Version, e.target))
	}
	tok, err := api.PasswordGrant(ctx, hc, t.API, *user, *password)
	if err != nil {
		return err
	}
	c.Token = tok.AccessToken
	var ui api.UserInfo
	if err := c.Get(ctx, "/api/v1/user", &ui); err != nil {
		return err
	}
	if !ui.IsAdmin {
		if ui.Teams == nil {
			return errors.New("unable to verify role on team")
		}
		if _, ok := ui.Teams[t.Team]; !ok {
			return fmt.Errorf("you are not a member of '%s' or the team does not exist", t.Team)
		}
	}
	t.Token = &TargetTok{Type: tok.TokenType, Value: tok.AccessToken}
	rc.Targets[e.target] = t
	if err := rc.save(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\ntarget saved")
	return nil
}

func logout(ctx context.Context, e *env, args []string) error {
	f := newFlags("logout", e)
	all := f.boolean("a", "all", "log out of every target")
	if err := f.Parse(args); err != nil {
		return err
	}
	rc, err := loadRC()
	if err != nil {
		return err
	}
	names := []string{e.target}
	if *all {
		names = names[:0]
		for n := range rc.Targets {
			names = append(names, n)
		}
	} else if e.target == "" {
		return errors.New("no target specified: use -t or --all")
	}
	for _, n := range names {
		t, ok := rc.Targets[n]
		if !ok {
			return fmt.Errorf("unknown target: %s", n)
		}
		if t.Token != nil && t.Token.Value != "" {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.API+"/sky/logout", nil)
			req.AddCookie(&http.Cookie{Name: "skymarshal_auth", Value: "bearer " + t.Token.Value})
			resp, err := httpClient(t.Insecure).Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				fmt.Fprintln(e.stderr, "failed to logout from API")
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
		t.Token = &TargetTok{}
	}
	if err := rc.save(); err != nil {
		return err
	}
	if *all {
		fmt.Fprintln(e.stdout, "logged out of all targets")
	} else {
		fmt.Fprintf(e.stdout, "logged out of target: %s\n", e.target)
	}
	return nil
}

func status(ctx context.Context, e *env, args []string) error {
	rc, err := loadRC()
	if err != nil {
		return err
	}
	t, ok := rc.Targets[e.target]
	if !ok {
		return fmt.Errorf("unknown target: %s", e.target)
	}
	if t.Token == nil || t.Token.Value == "" {
		fmt.Fprintln(e.stdout, "logged out")
		return nil
	}
	c := &api.Client{URL: t.API, Token: t.Token.Value, HTTP: httpClient(t.Insecure)}
	var ui api.UserInfo
	if err := c.Get(ctx, "/api/v1/user", &ui); err != nil {
		fmt.Fprintf(e.stdout, "please login again.\n\ntoken validation failed with error: %v\n", err)
		return exitError{1}
	}
	fmt.Fprintln(e.stdout, "logged in successfully")
	return nil
}

func targets(ctx context.Context, e *env, args []string) error {
	rc, err := loadRC()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(rc.Targets))
	for n := range rc.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := [][]string{}
	for _, n := range names {
		t := rc.Targets[n]
		rows = append(rows, []string{n, t.API, t.Team, expiry(t.Token)})
	}
	e.table([]string{"name", "url", "team", "expiry"}, rows)
	return nil
}

// expiry reads the expiry of a Switchyard token (its claims are readable);
// other tokens show as Concourse's fly shows unreadable ones.
func expiry(t *TargetTok) string {
	if t == nil || t.Value == "" {
		return "n/a"
	}
	part, _, ok := strings.Cut(t.Value, ".")
	if !ok {
		return "n/a: invalid token"
	}
	body, err := base64.RawURLEncoding.DecodeString(part)
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err != nil || json.Unmarshal(body, &claims) != nil || claims.Exp == 0 {
		return "n/a: invalid token"
	}
	return time.Unix(claims.Exp, 0).UTC().Format(time.RFC1123)
}
