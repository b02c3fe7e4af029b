package idtoken

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Handler serves the discovery document and the key set, to anyone.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := strings.TrimSuffix(i.URL, "/")
		writeJSON(w, map[string]any{
			"issuer": iss, "jwks_uri": iss + "/.well-known/jwks.json",
			"claims_supported": []string{"aud", "iat", "iss", "sub"}, "response_types_supported": []string{"idtoken"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		if err := i.load(r.Context()); err != nil { // another replica may have rotated
			http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, i.KeySet())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
