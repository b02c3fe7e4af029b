package placement

import (
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"math"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Split is the input as JSON without its spokes, and each spoke's JSON.
func (in *Input) Split() (doc []byte, spokes [][]byte, err error) {
	doc, err = json.Marshal(struct {
		Step      Step       `json:"step"`
		Build     Build      `json:"build"`
		Artifacts []Artifact `json:"artifacts"`
	}{in.Step, in.Build, in.Artifacts})
	spokes = make([][]byte, len(in.Spokes))
	for i := range in.Spokes {
		spokes[i] = spokeJSON.get(&in.Spokes[i])
	}
	return doc, spokes, err
}

// Value is the input as a Rego value, built directly: going through JSON
// and ast.InterfaceToValue costs three times the evaluation of a small
// policy over a hundred spokes. Spokes' values are cached by their content,
// since between two steps only a few spokes change (their load).
func (in *Input) Value() ast.Value {
	spokes := make([]*ast.Term, len(in.Spokes))
	for i := range in.Spokes {
		spokes[i] = spokeTerms.get(&in.Spokes[i])
	}
	artifacts := make([]*ast.Term, len(in.Artifacts))
	for i, a := range in.Artifacts {
		artifacts[i] = object(
			item("name", ast.String(a.Name)), item("size", ast.Number(itoa(a.Size))), item("spokes", stringArray(a.Spokes)))
	}
	s, b := in.Step, in.Build
	return ast.NewObject(
		item("step", ast.NewObject(item("id", ast.String(s.ID)), item("kind", ast.String(s.Kind)), item("name", ast.String(s.Name)),
			item("image", ast.String(s.Image)), item("tags", stringArray(s.Tags)), item("privileged", ast.Boolean(s.Privileged)),
			item("resources", s.Resources.value()))),
		item("build", ast.NewObject(item("id", ast.Number(itoa(b.ID))), item("name", ast.String(b.Name)), item("job", ast.String(b.Job)),
			item("pipeline", ast.String(b.Pipeline)), item("team", ast.String(b.Team)), item("trusted", ast.Boolean(b.Trusted)))),
		item("artifacts", ast.NewArray(artifacts...)),
		item("spokes", ast.NewArray(spokes...)),
	)
}

func (sp *Spoke) value() ast.Value {
	keys := make([]string, 0, len(sp.Labels))
	for k := range sp.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	labels := make([][2]*ast.Term, len(keys))
	for i, k := range keys {
		labels[i] = ast.Item(ast.StringTerm(k), ast.StringTerm(sp.Labels[k]))
	}
	return ast.NewObject(
		item("name", ast.String(sp.Name)), item("team", ast.String(sp.Team)), item("pool", ast.String(sp.Pool)),
		item("labels", ast.NewObject(labels...)), item("tags", stringArray(sp.Tags)), item("health", ast.String(sp.Health)),
		item("capacity", sp.Capacity.value()), item("load", sp.Load.value()), item("cached_volumes", stringArray(sp.CachedVolumes)))
}

func (r Resources) value() ast.Value {
	return ast.NewObject(item("cpu", ast.FloatNumberTerm(r.CPU).Value), item("memory", ast.Number(itoa(r.Memory))),
		item("steps", ast.Number(itoa(int64(r.Steps)))))
}

func item(k string, v ast.Value) [2]*ast.Term { return ast.Item(ast.StringTerm(k), ast.NewTerm(v)) }

func object(items ...[2]*ast.Term) *ast.Term { return ast.NewTerm(ast.NewObject(items...)) }

func stringArray(list []string) ast.Value {
	terms := make([]*ast.Term, len(list))
	for i, s := range list {
		terms[i] = ast.StringTerm(s)
	}
	return ast.NewArray(terms...)
}

func itoa(n int64) string { return ast.IntNumberTerm(int(n)).Value.String() }

// spokeTerms caches spokes' Rego values, and spokeJSON their JSON: the last
// one made for each spoke, checked by a hash of its content.
var (
	spokeTerms = newSpokeCache(func(sp *Spoke) *ast.Term { return ast.NewTerm(sp.value()) })
	spokeJSON  = newSpokeCache(func(sp *Spoke) []byte {
		b, err := json.Marshal(sp)
		if err != nil {
			panic(err) // strings, numbers and maps of strings
		}
		return b
	})
)

// spokeCacheMax bounds a cache that spokes long gone still fill.
const spokeCacheMax = 1 << 14

type spokeCache[T any] struct {
	seed maphash.Seed
	make func(*Spoke) T
	mu   sync.Mutex
	m    map[string]cached[T] // by spoke name
}

type cached[T any] struct {
	hash uint64
	v    T
}

func newSpokeCache[T any](make func(*Spoke) T) *spokeCache[T] {
	return &spokeCache[T]{seed: maphash.MakeSeed(), make: make, m: map[string]cached[T]{}}
}

func (c *spokeCache[T]) get(sp *Spoke) T {
	h := sp.hash(c.seed)
	c.mu.Lock()
	e, ok := c.m[sp.Name]
	c.mu.Unlock()
	if ok && e.hash == h {
		return e.v
	}
	v := c.make(sp)
	c.mu.Lock()
	if len(c.m) >= spokeCacheMax {
		clear(c.m)
	}
	c.m[sp.Name] = cached[T]{h, v}
	c.mu.Unlock()
	return v
}

// hash is a hash of every field of the spoke, written into one buffer and
// hashed at once (a write to maphash.Hash per field cost more than the
// rest of a decision's work on the spoke).
func (sp *Spoke) hash(seed maphash.Seed) uint64 {
	var stack [512]byte
	b := stack[:0]
	str := func(s string) { b = append(append(b, s...), 0) }
	num := func(n uint64) { b = binary.LittleEndian.AppendUint64(b, n) }
	strs := func(list []string) {
		num(uint64(len(list)))
		for _, s := range list {
			str(s)
		}
	}
	res := func(r Resources) {
		num(math.Float64bits(r.CPU))
		num(uint64(r.Memory))
		num(uint64(r.Steps))
	}
	str(sp.Name)
	str(sp.Team)
	str(sp.Pool)
	str(sp.Health)
	// Labels in any order: their pairs' hashes are added.
	var labels uint64
	for k, v := range sp.Labels {
		labels += maphash.String(seed, k+"\x00"+v)
	}
	num(labels)
	num(uint64(len(sp.Labels)))
	strs(sp.Tags)
	strs(sp.CachedVolumes)
	res(sp.Capacity)
	res(sp.Load)
	return maphash.Bytes(seed, b)
}
