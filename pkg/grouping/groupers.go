package grouping

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// sortedTargets returns a sorted private copy of targets, or an error when there are none:
// a subscription with no receiving task would silently drop every tuple.
func sortedTargets(kind Type, ctx Context, targets []int32) ([]int32, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("%s grouping of %s has no target tasks: %q needs at least one task (parallelism of 1 or more)", kind, ctx.where(), ctx.TargetComponent)
	}
	t := slices.Clone(targets)
	slices.Sort(t)
	return t, nil
}

// singles returns targets[i:i+1] for every i, capped so a caller's append cannot overwrite a
// neighbour; handing these out lets ChooseTasks return one task without allocating.
func singles(targets []int32) [][]int32 {
	s := make([][]int32, len(targets))
	for i := range targets {
		s[i] = targets[i : i+1 : i+1]
	}
	return s
}

// resolveFields maps selected field names to their positions in the stream, naming every
// field the stream lacks.
func resolveFields(kind Type, ctx Context, fields []string) ([]int, error) {
	idx := make([]int, len(fields))
	var missing []string
	for i, f := range fields {
		idx[i] = slices.Index(ctx.OutputFields, f)
		if idx[i] < 0 {
			missing = append(missing, fmt.Sprintf("%q", f))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s grouping of %s selects %s, which the stream does not declare (it declares %s): select declared fields or declare them on the stream", kind, ctx.where(), joinList(missing), declared(ctx.OutputFields))
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%s grouping of %s selects no fields: set Fields to the names of the fields whose values choose the task", kind, ctx.where())
	}
	return idx, nil
}

func joinList(quoted []string) string {
	if len(quoted) == 1 {
		return "field " + quoted[0]
	}
	return "fields " + strings.Join(quoted, ", ")
}

// shuffleGrouper sends tuples round robin over a random permutation of the targets, from a
// random start. Round robin keeps each source task's load exactly even; the random order
// and start keep many source tasks from hitting the same target in lockstep.
type shuffleGrouper struct {
	choices [][]int32
	next    int
}

func (g *shuffleGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(Shuffle, ctx, targets)
	if err != nil {
		return err
	}
	g.init(t)
	return nil
}

// init takes ownership of targets.
func (g *shuffleGrouper) init(targets []int32) {
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	g.choices = singles(targets)
	g.next = rand.IntN(len(targets))
}

func (g *shuffleGrouper) ChooseTasks(int32, []any) []int32 {
	c := g.choices[g.next]
	g.next++
	if g.next == len(g.choices) {
		g.next = 0
	}
	return c
}

// localOrShuffleGrouper shuffles among the targets in the source's worker process, which
// avoids network hops, and falls back to all targets when none is local.
type localOrShuffleGrouper struct {
	shuffleGrouper
}

func (g *localOrShuffleGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(LocalOrShuffle, ctx, targets)
	if err != nil {
		return err
	}
	if ctx.IsLocal != nil {
		var local []int32
		for _, task := range t {
			if ctx.IsLocal(task) {
				local = append(local, task)
			}
		}
		if len(local) > 0 {
			t = local
		}
	}
	g.init(t)
	return nil
}

// fieldsGrouper sends equal values of the selected fields to the same task, so a bolt can
// keep per-key state.
type fieldsGrouper struct {
	fields  []string
	idx     []int
	choices [][]int32
}

func (g *fieldsGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(Fields, ctx, targets)
	if err != nil {
		return err
	}
	idx, err := resolveFields(Fields, ctx, g.fields)
	if err != nil {
		return err
	}
	g.idx, g.choices = idx, singles(t)
	return nil
}

func (g *fieldsGrouper) ChooseTasks(_ int32, values []any) []int32 {
	return g.choices[Hash(values, g.idx)%uint64(len(g.choices))]
}

// partialKeyGrouper is Storm's PartialKeyGrouping ("power of two choices"): each key has
// two candidate tasks and goes to the one this grouper has loaded less, so a hot key is
// split over two tasks instead of overloading one. Consumers must merge per-key state
// from both candidates.
type partialKeyGrouper struct {
	fields  []string
	idx     []int
	choices [][]int32
	counts  []uint64 // tuples sent to each target by this grouper
}

// Seeds that derive the two candidate hashes of a key. Changing them moves keys.
const (
	partialSeed1 = 0x9e3779b97f4a7c15
	partialSeed2 = 0xd1b54a32d192ed03
)

func (g *partialKeyGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(PartialKey, ctx, targets)
	if err != nil {
		return err
	}
	idx, err := resolveFields(PartialKey, ctx, g.fields)
	if err != nil {
		return err
	}
	g.idx, g.choices, g.counts = idx, singles(t), make([]uint64, len(t))
	return nil
}

func (g *partialKeyGrouper) ChooseTasks(_ int32, values []any) []int32 {
	a, b := partialCandidates(sum(values, g.idx), uint64(len(g.choices)))
	c := a // ties go to the first candidate
	if g.counts[b] < g.counts[a] {
		c = b
	}
	g.counts[c]++
	return g.choices[c]
}

// partialCandidates returns the positions of the two targets (of n) a key with FNV state s
// may go to. They differ whenever n > 1.
func partialCandidates(s, n uint64) (a, b uint64) {
	a = fmix64(s^partialSeed1) % n
	if n == 1 {
		return a, a
	}
	// Pick the second among the other n-1 targets so the two always differ.
	return a, (a + 1 + fmix64(s^partialSeed2)%(n-1)) % n
}

// allGrouper replicates every tuple to every target.
type allGrouper struct {
	targets []int32
}

func (g *allGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(All, ctx, targets)
	if err != nil {
		return err
	}
	g.targets = t[:len(t):len(t)]
	return nil
}

func (g *allGrouper) ChooseTasks(int32, []any) []int32 { return g.targets }

// globalGrouper sends the whole stream to the target with the lowest task id, as Storm does.
type globalGrouper struct {
	target []int32
}

func (g *globalGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(Global, ctx, targets)
	if err != nil {
		return err
	}
	g.target = t[0:1:1]
	return nil
}

func (g *globalGrouper) ChooseTasks(int32, []any) []int32 { return g.target }

// DirectGrouper is the grouper of a direct grouping: the emitter names the receiving task,
// so ChooseTasks returns nil and the executor checks the named task with Contains.
type DirectGrouper struct {
	targets []int32 // sorted
}

// Prepare records the tasks an emitDirect may name.
func (d *DirectGrouper) Prepare(ctx Context, targets []int32) error {
	t, err := sortedTargets(Direct, ctx, targets)
	if err != nil {
		return err
	}
	d.targets = t
	return nil
}

// ChooseTasks returns nil: with a direct grouping the emitter chooses the task.
func (d *DirectGrouper) ChooseTasks(int32, []any) []int32 { return nil }

// Contains reports whether task is a target of the grouping, i.e. a valid emitDirect task.
func (d *DirectGrouper) Contains(task int32) bool {
	_, ok := slices.BinarySearch(d.targets, task)
	return ok
}
