package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Configs at rest: with an encryption key, the documents that hold pipeline
// configs and resource sources (pipelines.config, resources.config,
// resource_types.config, jobs.config, jobs.plan, builds.plan,
// build_steps.request and result) are stored sealed with AES-GCM, as a JSON string
// "enc:v1:" + base64(nonce ‖ ciphertext), which a JSONB column holds like any
// value. Without a key they are stored as they are. An old key opens what it
// sealed while the keys rotate (Reseal).

const sealPrefix = `"enc:v1:`

// Keys are the encryption keys: New seals and opens, Old only opens. Both
// nil: nothing is sealed.
type Keys struct {
	New, Old cipher.AEAD
}

// NewKeys makes the keys from the flags' values, 16 or 32 bytes each
// (AES-128 or AES-256); empty values are no key.
func NewKeys(newKey, oldKey string) (*Keys, error) {
	k := &Keys{}
	for _, c := range []struct {
		flag, value string
		dst         *cipher.AEAD
	}{{"--encryption-key", newKey, &k.New}, {"--old-encryption-key", oldKey, &k.Old}} {
		if c.value == "" {
			continue
		}
		if n := len(c.value); n != 16 && n != 32 {
			return nil, fmt.Errorf("%s must be 16 or 32 bytes long (AES-128 or AES-256), not %d", c.flag, n)
		}
		block, err := aes.NewCipher([]byte(c.value))
		if err != nil {
			return nil, err
		}
		if *c.dst, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// ErrSealed says a document is sealed with a key the hub was not given.
var ErrSealed = errors.New("the database holds configs encrypted with another key: start the hub with that key as --encryption-key (or as --old-encryption-key while rotating to a new one)")

// seal returns doc sealed with the new key (as it is without one).
func (k *Keys) seal(doc []byte) []byte {
	if k == nil || k.New == nil || doc == nil {
		return doc
	}
	nonce := make([]byte, k.New.NonceSize(), k.New.NonceSize()+len(doc)+k.New.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	sealed := k.New.Seal(nonce, nonce, doc, nil)
	out := make([]byte, 0, len(sealPrefix)+base64.StdEncoding.EncodedLen(len(sealed))+1)
	out = append(out, sealPrefix...)
	out = base64.StdEncoding.AppendEncode(out, sealed)
	return append(out, '"')
}

// sealText is seal for a column written as text.
func (k *Keys) sealText(doc []byte) string { return string(k.seal(doc)) }

// open returns a stored document in the clear.
func (k *Keys) open(doc []byte) ([]byte, error) {
	if !isSealed(doc) {
		return doc, nil
	}
	var text string
	if err := json.Unmarshal(doc, &text); err != nil {
		return nil, fmt.Errorf("read sealed config: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(text[len(sealPrefix)-1:])
	if err != nil {
		return nil, fmt.Errorf("read sealed config: %w", err)
	}
	if k != nil {
		for _, aead := range []cipher.AEAD{k.New, k.Old} {
			if aead == nil || len(raw) < aead.NonceSize() {
				continue
			}
			if out, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil); err == nil {
				return out, nil
			}
		}
	}
	return nil, ErrSealed
}

func isSealed(doc []byte) bool { return bytes.HasPrefix(doc, []byte(sealPrefix)) }

// openRaw opens a JSON document in place.
func (k *Keys) openRaw(doc *json.RawMessage) error {
	out, err := k.open(*doc)
	if err == nil {
		*doc = out
	}
	return err
}

// sealedColumns are the documents seal covers.
var sealedColumns = []struct{ table, column string }{
	{"pipelines", "config"}, {"resources", "config"}, {"resource_types", "config"},
	{"jobs", "config"}, {"jobs", "plan"}, {"builds", "plan"}, {"build_steps", "request"}, {"build_steps", "result"},
}

// CheckKeys opens a sealed pipeline config, if there is one, with the hub's
// keys: a hub started with another key than the one its peers sealed the
// database with (or with none) fails at start with ErrSealed, instead of
// failing each build that reads a config. Pipelines are few, so it reads
// little.
func (s *Store) CheckKeys(ctx context.Context) error {
	var doc []byte
	err := s.reads.QueryRow(ctx, `SELECT config FROM pipelines WHERE config::TEXT LIKE '"enc:v1:%' LIMIT 1`).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the encryption key: %w", err)
	}
	if _, err := s.keys.open(doc); err != nil {
		return err
	}
	return nil
}

// Reseal brings every stored document to the current keys: sealed with the
// new key (documents in the clear or sealed with the old key are sealed
// again), or in the clear when the hub has only an old key. It runs in
// batches and says how many documents it rewrote. Without keys it does
// nothing.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	if s.keys == nil || (s.keys.New == nil && s.keys.Old == nil) {
		return 0, nil
	}
	total := 0
	for _, c := range sealedColumns {
		// Documents in the clear need work only when there is a new key;
		// sealed ones only when there is an old key (or none at all).
		var where string
		switch {
		case s.keys.Old == nil:
			where = c.column + `::TEXT NOT LIKE '"enc:v1:%'`
		case s.keys.New == nil:
			where = c.column + `::TEXT LIKE '"enc:v1:%'`
		default:
			where = "true"
		}
		after := int64(0)
		for {
			type doc struct {
				id  int64
				raw []byte
			}
			docs, err := collect(ctx, func() (pgx.Rows, error) {
				return s.reads.Query(ctx, `SELECT id, `+c.column+` FROM `+c.table+` WHERE id > $1 AND `+c.column+` IS NOT NULL AND `+where+
					` ORDER BY id LIMIT 500`, after)
			}, func(r pgx.CollectableRow) (doc, error) {
				var d doc
				err := r.Scan(&d.id, &d.raw)
				return d, err
			})
			if err != nil {
				return total, fmt.Errorf("reseal %s.%s: %w", c.table, c.column, err)
			}
			for _, d := range docs {
				after = d.id
				if isSealed(d.raw) && s.keys.New != nil && s.keys.openedBy(d.raw, s.keys.New) {
					continue // current already
				}
				plain, err := s.keys.open(d.raw)
				if err != nil {
					return total, fmt.Errorf("reseal %s %d: %w", c.table, d.id, err)
				}
				// Only if it did not change meanwhile: a concurrent write is current.
				tag, err := s.pool.Exec(ctx, `UPDATE `+c.table+` SET `+c.column+` = $2 WHERE id = $1 AND `+c.column+`::TEXT = $3::JSONB::TEXT`,
					d.id, s.keys.sealText(plain), string(d.raw))
				if err != nil {
					return total, fmt.Errorf("reseal %s %d: %w", c.table, d.id, err)
				}
				total += int(tag.RowsAffected())
			}
			if len(docs) < 500 {
				break
			}
		}
	}
	return total, nil
}

// openedBy tells whether aead sealed doc.
func (k *Keys) openedBy(doc []byte, aead cipher.AEAD) bool {
	only := &Keys{New: aead}
	_, err := only.open(doc)
	return err == nil
}
