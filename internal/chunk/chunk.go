// Package chunk hands out values of one type allocated a few at a time: one allocation
// serves up to Max values, which is most of the saving of a pool without its hand-back.
// The price is that a value someone keeps keeps its whole chunk alive, which Max bounds.
// The engine's tuples, the wire decoder's tuples and the Kafka spout's record values come
// from chunks.
package chunk

// Max is the most values one allocation holds.
const Max = 16

// Of hands out zeroed values of T. Its chunks grow from 1 to Max values, so that a user
// that needs only a few wastes little. The zero value is ready; it is not safe for
// concurrent use.
type Of[T any] struct {
	free []T
	size int // of the last chunk
}

// Empty says whether the next Next allocates a chunk.
func (c *Of[T]) Empty() bool { return len(c.free) == 0 }

// Next returns a new zeroed value, never handed out before.
func (c *Of[T]) Next() *T {
	if len(c.free) == 0 {
		c.size = min(max(2*c.size, 1), Max)
		c.free = make([]T, c.size)
	}
	v := &c.free[0]
	c.free = c.free[1:]
	return v
}
