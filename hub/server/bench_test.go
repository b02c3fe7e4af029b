package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/auth"
	"github.com/switchyard-ci/switchyard/hub/notify"
	"github.com/switchyard-ci/switchyard/hub/store/storetest"
)

type benchWaker struct{}

func (benchWaker) Wake(int64)      {}
func (benchWaker) WakeAbort(int64) {}
func (benchWaker) WakeScheduler()  {}

// BenchmarkAuthenticatedPipelines measures authenticated requests a second
// on GET /api/v1/teams/main/pipelines with revocation checks on (a token is
// looked up again every RevocationStaleness) against the same route in the
// same run with the check off (a token looked up once is trusted until it
// expires), from 8 clients at once.
func BenchmarkAuthenticatedPipelines(b *testing.B) {
	users := auth.Users{}
	_ = users.Add("admin:pw")
	srv, err := New(context.Background(), Config{Users: users, MainTeamUsers: []string{"admin"}}, storetest.New(b), benchWaker{}, notify.New(),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"pw"}, "client_id": {"fly"}, "client_secret": {"Zmx5"}}
	var tok api.Token
	c := &api.Client{URL: hs.URL}
	if _, err := c.Do(context.Background(), "POST", "/sky/issuer/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()), &tok); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, bc := range []struct {
		name      string
		staleness time.Duration
	}{{"revocation-off", 1 << 62}, {"revocation-on", RevocationStaleness}} {
		b.Run(bc.name, func(b *testing.B) {
			srv.tokens.staleness = bc.staleness
			b.SetParallelism(4) // 4 per core
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, _ := http.NewRequest(http.MethodGet, hs.URL+"/api/v1/teams/main/pipelines", nil)
					r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
					resp, err := client.Do(r)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}
