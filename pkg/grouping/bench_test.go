package grouping

import (
	"fmt"
	"testing"
)

func BenchmarkShuffle(b *testing.B) {
	g := mustPrepare(b, Spec{Type: Shuffle}, testCtx, taskRange(8))
	values := []any{"hello", int64(1), int64(2)}
	b.ReportAllocs()
	for b.Loop() {
		g.ChooseTasks(1, values)
	}
}

func BenchmarkFields(b *testing.B) {
	keys := []struct {
		name   string
		values []any
	}{
		{"string", []any{"user-1234567", int64(1), int64(2)}},
		{"int64", []any{int64(1234567), int64(1), int64(2)}},
	}
	for _, k := range keys {
		b.Run(k.name, func(b *testing.B) {
			g := mustPrepare(b, Spec{Type: Fields, Fields: []string{"word"}}, testCtx, taskRange(8))
			b.ReportAllocs()
			for b.Loop() {
				g.ChooseTasks(1, k.values)
			}
		})
	}
}

func BenchmarkPartialKey(b *testing.B) {
	g := mustPrepare(b, Spec{Type: PartialKey, Fields: []string{"word"}}, testCtx, taskRange(8))
	keys := make([][]any, 1024)
	for i := range keys {
		keys[i] = []any{fmt.Sprintf("user-%d", i%97), int64(i), int64(0)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.ChooseTasks(1, keys[i&1023])
		i++
	}
}

func BenchmarkHash(b *testing.B) {
	big := map[string]any{}
	for i := range 16 {
		big[fmt.Sprintf("key%d", i)] = int64(i)
	}
	inputs := []struct {
		name   string
		values []any
	}{
		{"string", []any{"user-1234567"}},
		{"int64", []any{int64(1234567)}},
		{"float64", []any{3.25}},
		{"bytes64", []any{make([]byte, 64)}},
		{"three", []any{"user-1234567", int64(2024), true}},
		{"list", []any{[]any{"a", int64(1), 2.5}}},
		{"map4", []any{map[string]any{"a": int64(1), "b": "x", "c": true, "d": nil}}},
		{"map16", []any{big}},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			idx := all(in.values)
			b.ReportAllocs()
			for b.Loop() {
				Hash(in.values, idx)
			}
		})
	}
}
