package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// SplitEvaluator is a policy that also takes its input in parts: a document
// and the items of one of its fields, an array. Callers whose array mostly
// stays the same between evaluations (placement's spokes) use it: an OPA
// WASM policy parses only the items it has not seen, where parsing all of
// them took most of its time.
type SplitEvaluator interface {
	// EvalSplit evaluates doc, a JSON object without field, with field set
	// to the array of items, each a JSON value.
	EvalSplit(ctx context.Context, doc []byte, field string, items [][]byte) ([]byte, error)
}

// JoinArray is the document EvalSplit evaluates, as JSON.
func JoinArray(doc []byte, field string, items [][]byte) []byte {
	doc = bytes.TrimSpace(doc)
	head := bytes.TrimSpace(doc[:max(len(doc)-1, 0)]) // without its closing brace
	out := append([]byte(nil), head...)
	if len(head) > 1 {
		out = append(out, ',')
	}
	name, _ := json.Marshal(field)
	out = append(append(out, name...), ':')
	return append(jsonArray(out, items), '}')
}

// jsonArray appends the array of items to b.
func jsonArray(b []byte, items [][]byte) []byte {
	b = append(b, '[')
	for k, it := range items {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// OPA's value layout, which the split evaluation writes into: an array is
// {type u8 (padded), elems *elem, len, cap}, and an element {i, v *value}.
// checkLayout proves it on each new instance; when it does not hold (a
// future OPA), instances evaluate the joined document instead.
const (
	opaArrayType    = 5
	opaArrayElems   = 4
	opaArrayLen     = 8
	opaElemSize     = 8
	opaElemValue    = 4
	itemCacheFactor = 4  // items kept per item evaluated, before the stale ones go
	opaCacheMax     = 16 // MiB of memory the cached items may take
)

// opaItems are the items an instance keeps parsed, below its eval heap.
type opaItems struct {
	ok     bool              // the layout holds
	values map[string]uint32 // item JSON -> its parsed value
	end    uint32            // the heap after them
}

// checkLayout puts one parsed value into both elements of a parsed array
// and reads the array back.
func (in *opaInstance) checkLayout(ctx context.Context) bool {
	t, err := in.parse(ctx, []byte(`[[0,0],"a"]`))
	if err != nil {
		return false
	}
	parts, err := in.arrayValues(t)
	if err != nil || len(parts) != 2 {
		return false
	}
	if err := in.setArrayValues(parts[0], []uint32{parts[1], parts[1]}); err != nil {
		return false
	}
	s, err := in.g.call(ctx, "opa_json_dump", uint64(parts[0]))
	return err == nil && string(cString(in.mem, uint32(s), 64)) == `["a","a"]`
}

// evalSplit parses the items it has not seen, after those it has, then the
// document with a placeholder array whose elements it points at the items'
// values, and evaluates that.
func (in *opaInstance) evalSplit(ctx context.Context, doc []byte, field string, items [][]byte) ([]byte, error) {
	c := &in.items
	if !c.ok {
		return in.eval(ctx, JoinArray(doc, field, items))
	}
	if c.values == nil || len(c.values) > itemCacheFactor*len(items)+64 || c.end-in.heap > opaCacheMax<<20 {
		c.values, c.end = map[string]uint32{}, in.heap
	}
	if _, err := in.g.call(ctx, "opa_heap_ptr_set", uint64(c.end)); err != nil {
		return nil, err
	}
	var fresh [][]byte
	seen := map[string]bool{}
	for _, it := range items {
		if _, ok := c.values[string(it)]; !ok && !seen[string(it)] {
			seen[string(it)] = true
			fresh = append(fresh, it)
		}
	}
	if len(fresh) > 0 {
		arr, err := in.parse(ctx, jsonArray(nil, fresh))
		if err != nil {
			return nil, err
		}
		values, err := in.arrayValues(arr)
		if err == nil && len(values) != len(fresh) {
			err = fmt.Errorf("%d values for %d items", len(values), len(fresh))
		}
		if err != nil {
			return nil, fmt.Errorf("read the parsed input: %w", err)
		}
		for k, it := range fresh {
			c.values[string(it)] = values[k]
		}
		end, err := in.g.call(ctx, "opa_heap_ptr_get")
		if err != nil {
			return nil, err
		}
		c.end = uint32(end)
		// Start the evaluation's heap after them, with no free blocks
		// among them.
		if _, err := in.g.call(ctx, "opa_heap_ptr_set", uint64(c.end)); err != nil {
			return nil, err
		}
	}
	// [doc, [0, 0, ...], [field]]: the document, the placeholder array and
	// the path it goes to.
	name, _ := json.Marshal(field)
	text := make([]byte, 0, len(doc)+2*len(items)+len(name)+8)
	text = append(append(append(text, '['), doc...), ",["...)
	for k := range items {
		if k > 0 {
			text = append(text, ',')
		}
		text = append(text, '0')
	}
	text = append(append(append(text, "],["...), name...), "]]"...)
	t, err := in.parse(ctx, text)
	if err != nil {
		return nil, err
	}
	parts, err := in.arrayValues(t)
	if err == nil && len(parts) != 3 {
		err = fmt.Errorf("%d parts, not 3", len(parts))
	}
	if err != nil {
		return nil, fmt.Errorf("read the parsed input: %w", err)
	}
	values := make([]uint32, len(items))
	for k, it := range items {
		values[k] = c.values[string(it)]
	}
	if err := in.setArrayValues(parts[1], values); err != nil {
		return nil, err
	}
	if errc, err := in.g.call(ctx, "opa_value_add_path", uint64(parts[0]), uint64(parts[2]), uint64(parts[1])); err != nil || errc != 0 {
		return nil, fmt.Errorf("set input.%s (error %d): %v", field, errc, err)
	}
	ectx, err := in.g.call(ctx, "opa_eval_ctx_new")
	if err != nil {
		return nil, err
	}
	for _, set := range []struct {
		fn  string
		arg uint64
	}{{"opa_eval_ctx_set_input", uint64(parts[0])}, {"opa_eval_ctx_set_data", in.data}, {"opa_eval_ctx_set_entrypoint", in.entrypoint}} {
		if _, err := in.g.call(ctx, set.fn, ectx, set.arg); err != nil {
			return nil, err
		}
	}
	if _, err := in.g.call(ctx, "eval", ectx); err != nil {
		return nil, err
	}
	res, err := in.g.call(ctx, "opa_eval_ctx_get_result", ectx)
	if err != nil {
		return nil, err
	}
	s, err := in.g.call(ctx, "opa_json_dump", res)
	if err != nil {
		return nil, err
	}
	return in.resultSet(uint32(s))
}

// parse copies JSON text into the module's heap and parses it.
func (in *opaInstance) parse(ctx context.Context, text []byte) (uint32, error) {
	addr, err := in.g.call(ctx, "opa_malloc", uint64(len(text)))
	if err != nil {
		return 0, err
	}
	if !in.mem.Write(uint32(addr), text) {
		return 0, fmt.Errorf("opa_malloc gave a buffer outside the module's memory")
	}
	v, err := in.g.call(ctx, "opa_json_parse", addr, uint64(len(text)))
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("the policy could not parse its input (%d bytes)", len(text))
	}
	return uint32(v), nil
}

// arrayValues reads the values of a parsed array.
func (in *opaInstance) arrayValues(arr uint32) ([]uint32, error) {
	elems, n, err := in.array(arr)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for k := range out {
		v, ok := in.mem.ReadUint32Le(elems + uint32(k)*opaElemSize + opaElemValue)
		if !ok {
			return nil, fmt.Errorf("array element %d is outside memory", k)
		}
		out[k] = v
	}
	return out, nil
}

// setArrayValues points the elements of a parsed array at values.
func (in *opaInstance) setArrayValues(arr uint32, values []uint32) error {
	elems, n, err := in.array(arr)
	if err != nil {
		return err
	}
	if n != uint32(len(values)) {
		return fmt.Errorf("the array has %d elements, not %d", n, len(values))
	}
	for k, v := range values {
		if !in.mem.WriteUint32Le(elems+uint32(k)*opaElemSize+opaElemValue, v) {
			return fmt.Errorf("array element %d is outside memory", k)
		}
	}
	return nil
}

func (in *opaInstance) array(arr uint32) (elems, n uint32, err error) {
	typ, ok1 := in.mem.ReadByte(arr)
	elems, ok2 := in.mem.ReadUint32Le(arr + opaArrayElems)
	n, ok3 := in.mem.ReadUint32Le(arr + opaArrayLen)
	if !ok1 || !ok2 || !ok3 || typ != opaArrayType {
		return 0, 0, fmt.Errorf("value at %d is not an array", arr)
	}
	return elems, n, nil
}
