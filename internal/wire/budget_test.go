package wire_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// A peer's batch must not make its receiver allocate more than a constant times its size:
// decoding n bytes may allocate at most budgetPerByte*n + budgetSlack bytes. The factor
// covers the worst honest expansion (a 2-byte empty Value becomes a 16-byte interface in
// a list that append may have doubled, plus the decoder's scratch); the slack covers the
// fixed cost of a decode and the test's own bookkeeping.
const (
	budgetPerByte = 64
	budgetSlack   = 256 << 10
)

func allocBudget(n int) uint64 { return uint64(budgetPerByte*n + budgetSlack) }

// allocated returns the bytes f allocates. Nothing else runs in the test meanwhile, so
// the difference of TotalAlloc is f's (up to the slack).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// repeated is k copies of field, concatenated.
func repeated(k int, field []byte) []byte { return bytes.Repeat(field, k) }

// hostileInputs are batches a hostile peer could send to make a careless decoder
// allocate far more than it received.
func hostileInputs(k int) map[string][]byte {
	oneElementList := lenField(7, lenField(1, rawString("x")))
	oneEntryMap := lenField(8, lenField(1, lenField(1, []byte("k")), lenField(2, rawString("v"))))
	emptyValue := lenField(1)
	return map[string][]byte{
		// A Value whose list_value is repeated k times: each merges into the list before.
		"repeated list_value":            rawTuple(rawValue(repeated(k, oneElementList))),
		"repeated map_value":             rawTuple(rawValue(repeated(k, oneEntryMap))),
		"list of empty values":           rawTuple(rawValue(lenField(7, repeated(k, emptyValue)))),
		"repeated string_value":          rawTuple(rawValue(repeated(k, rawString("abcdefgh")))),
		"many empty values":              rawTuple(repeated(k, rawValue())),
		"repeated list_value in a list":  rawTuple(rawValue(lenField(7, lenField(1, repeated(k, oneElementList))))),
		"repeated list_value in a map":   rawTuple(rawValue(lenField(8, lenField(1, lenField(1, []byte("k")), lenField(2, repeated(k, oneElementList)))))),
		"many tuples with a value each":  repeated(k, rawTuple(rawValue(rawString("v")))),
		"repeated list_value, long list": rawTuple(rawValue(repeated(k/8, lenField(7, repeated(8, lenField(1, rawString("x"))))))),
	}
}

// TestDecodeAllocationBudget decodes hostile batches and checks that what the decoder
// allocates grows linearly with the input: a repeated list_value used to copy the whole
// list at each repetition, O(K²) bytes for K repetitions (about 3 GB for the 20000 here).
func TestDecodeAllocationBudget(t *testing.T) {
	src := newSources(true)
	src.add(1, tuple.DefaultStream)
	for name, in := range hostileInputs(20000) {
		t.Run(name, func(t *testing.T) {
			var err error
			got := allocated(func() { _, err = decodeAll(in, src) })
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if budget := allocBudget(len(in)); got > budget {
				t.Errorf("decoding %d bytes allocated %d bytes; the budget is %d (%d per byte + %d)", len(in), got, budget, budgetPerByte, budgetSlack)
			}
		})
	}
}

// TestDecodeRepeatedListMerges checks what a repeated list_value means: the lists are
// concatenated, as the generated code merges them.
func TestDecodeRepeatedListMerges(t *testing.T) {
	src := newSources(true)
	src.add(1, tuple.DefaultStream)
	in := rawTuple(rawValue(repeated(3, lenField(7, lenField(1, rawString("a")), lenField(1, rawString("b"))))))
	got, err := decodeAll(in, src)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]any{"a", "b", "a", "b", "a", "b"}}
	if len(got) != 1 || fmt.Sprint(got[0].t.Values) != fmt.Sprint(want) {
		t.Fatalf("got %v, want values %v", got, want)
	}
}

// FuzzDecodeBudget feeds arbitrary bytes to Decode and checks each input against the
// allocation budget: whatever a peer sends, decoding it costs memory in proportion to
// its size.
func FuzzDecodeBudget(f *testing.F) {
	src := newSources(true)
	src.add(1, tuple.DefaultStream)
	for _, in := range hostileInputs(200) {
		f.Add(in)
	}
	f.Add(rawTuple(rawValue(rawNested(wire.MaxDepth))))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := allocated(func() { _, _ = decodeAll(b, src) })
		if budget := allocBudget(len(b)); got > budget {
			t.Fatalf("decoding %d bytes allocated %d bytes; the budget is %d", len(b), got, budget)
		}
	})
}
