package editdist

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"word", "word", 0},
		{"", "word", 4},
		{"word", "", 4},
		{"wrd", "word", 1},   // an insertion
		{"words", "word", 1}, // a deletion
		{"ward", "word", 1},  // a change
		{"wrod", "word", 1},  // a swap of neighbours
		{"kafka.topik", "kafka.topic", 1},
		{"kafka.brokrs", "kafka.brokers", 1},
		{"logs-adr", "logs-addr", 1},
		{"metrics-addr", "logs-addr", 6},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},    // optimal string alignment: no edit of a swapped pair
		{"wörd", "word", 1}, // runes, not bytes
		{long, "a", 65},     // past 64 runes: the longer length
		{"a", long, 65},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
