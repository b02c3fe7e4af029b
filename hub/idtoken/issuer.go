package idtoken

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// Issuer keeps the signing keys and signs tokens.
type Issuer struct {
	Store          *store.Store
	URL            string        // the tokens' iss, where the discovery document is served
	CheckInterval  time.Duration // how often the keys are looked after (0: 10m)
	RotationPeriod time.Duration // a key older than this is replaced (0: never)
	GracePeriod    time.Duration // older keys go once the newest is this old (0: 24h)
	RSABits        int           // 0: 4096
	Log            *slog.Logger

	mu   sync.Mutex
	keys []key // newest first
}

type key struct {
	kid     string
	alg     jose.SignatureAlgorithm
	private crypto.Signer
	created time.Time
}

var algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Run looks after the keys until ctx ends. Keys are first made when a
// token is first signed: a hub whose pipelines use no idtoken var source
// spends nothing on them.
func (i *Issuer) Run(ctx context.Context) error {
	every := i.CheckInterval
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := i.maintain(ctx); err != nil && ctx.Err() == nil {
			i.Log.Error("look after id token signing keys", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (i *Issuer) maintain(ctx context.Context) error {
	if err := i.load(ctx); err != nil {
		return err
	}
	i.mu.Lock()
	none := len(i.keys) == 0
	i.mu.Unlock()
	if none {
		return nil
	}
	return i.Rotate(ctx)
}

// Rotate makes the keys that are missing or due, deletes those past their
// grace, and reloads them.
func (i *Issuer) Rotate(ctx context.Context) error {
	keys, err := i.Store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	grace := i.GracePeriod
	if grace <= 0 {
		grace = 24 * time.Hour
	}
	now := time.Now()
	for _, alg := range algs {
		var newest *store.SigningKey
		for n := range keys {
			if keys[n].Alg == string(alg) {
				newest = &keys[n]
				break
			}
		}
		switch {
		case newest == nil || (i.RotationPeriod > 0 && now.Sub(newest.CreatedAt) > i.RotationPeriod):
			k, err := i.generate(alg)
			if err != nil {
				return err
			}
			notBefore := time.Time{}
			if i.RotationPeriod > 0 {
				notBefore = now.Add(-i.RotationPeriod)
			}
			if _, err := i.Store.AddSigningKey(ctx, k, notBefore); err != nil {
				return err
			}
		case now.Sub(newest.CreatedAt) > grace:
			if err := i.Store.DeleteSigningKeys(ctx, string(alg), newest.CreatedAt); err != nil {
				return err
			}
		}
	}
	return i.load(ctx)
}

func (i *Issuer) generate(alg jose.SignatureAlgorithm) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	if alg == jose.RS256 {
		bits := i.RSABits
		if bits == 0 {
			bits = 4096
		}
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	kid, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{KID: kid.String(), Alg: string(alg), PrivateKey: der}, nil
}

// load reads the stored keys.
func (i *Issuer) load(ctx context.Context) error {
	stored, err := i.Store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]key, 0, len(stored))
	for _, s := range stored {
		priv, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", s.KID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("signing key %s: not a signing key", s.KID)
		}
		keys = append(keys, key{kid: s.KID, alg: jose.SignatureAlgorithm(s.Alg), private: signer, created: s.CreatedAt})
	}
	i.mu.Lock()
	i.keys = keys
	i.mu.Unlock()
	return nil
}

// newest is the newest key of an algorithm; it reloads the keys once when
// there is none (the lifecycle has not run in this replica yet).
func (i *Issuer) newest(ctx context.Context, alg jose.SignatureAlgorithm) (key, error) {
	for try := 0; try < 2; try++ {
		i.mu.Lock()
		for _, k := range i.keys {
			if k.alg == alg {
				i.mu.Unlock()
				return k, nil
			}
		}
		i.mu.Unlock()
		if try == 0 {
			if err := i.Rotate(ctx); err != nil {
				return key{}, err
			}
		}
	}
	return key{}, fmt.Errorf("no %s signing key", alg)
}

// Sign signs claims with the newest key of alg.
func (i *Issuer) Sign(ctx context.Context, alg jose.SignatureAlgorithm, claims map[string]any) (string, error) {
	k, err := i.newest(ctx, alg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: k.private, KeyID: k.kid, Algorithm: string(alg)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// KeySet is the public half of every key kept.
func (i *Issuer) KeySet() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.private.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	return set
}
