package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// PasswordGrant is the OAuth2 password grant with client fly/Zmx5, as fly
// sends it: a local user's token for the hub at base.
func PasswordGrant(ctx context.Context, hc *http.Client, base, user, password string) (Token, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {"openid profile email federated:id groups"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sky/issuer/token", strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("fly", "Zmx5")
	resp, err := hc.Do(req)
	if err != nil {
		return Token{}, err
	}
	defer resp.Body.Close()
	var body struct {
		Token
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.Error != "" {
		return Token{}, fmt.Errorf("oauth2: %q %q", body.Error, body.Description)
	}
	if resp.StatusCode >= 300 || body.AccessToken == "" {
		return Token{}, fmt.Errorf("oauth2: cannot fetch token: %s", resp.Status)
	}
	return body.Token, nil
}
