// Package editdist measures how far a mistyped name is from the names it may have
// meant, for the "did you mean" of error messages.
package editdist

// maxRunes bounds the work on an outside string: a longer one is as far from every name
// as its length, which no caller suggests from.
const maxRunes = 64

// Distance is the edit distance of two short strings: an insertion, a deletion, a
// change, or a swap of two neighbours each count as one edit (optimal string
// alignment). It counts runes, and strings over 64 runes are the length of the longer
// apart.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > maxRunes || len(rb) > maxRunes {
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1) // a transposition
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
