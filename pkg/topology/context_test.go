package topology_test

import (
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/sparsestream/sparse/pkg/topology"
	"github.com/sparsestream/sparse/pkg/tuple"
)

// layoutSpec declares, in unsorted order: "words" (spout, 3 executors, 3 tasks),
// "split" (2 executors, 5 tasks), "count" (1), and "Zeta" (1, sorts before "__acker"
// because upper-case letters sort before '_').
func layoutSpec(t *testing.T) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder("t")
	b.Spout("words", newSpout, 3).Output("sentence").OutputStream("meta", "k", "v")
	b.Bolt("split", newBolt, 2).Tasks(5).Shuffle("words").Output("word")
	b.Bolt("count", newBolt, 1).Fields("split", "word").Output("word", "count")
	b.Bolt("Zeta", newBolt, 1).Shuffle("count")
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLayoutTasks(t *testing.T) {
	s := layoutSpec(t)
	tests := []struct {
		name      string
		ackers    int
		tasks     map[string][]int32
		executors map[string][][]int32
		numTasks  int
	}{
		{
			name:   "two ackers",
			ackers: 2,
			// Sorted ids: Zeta < __acker < count < split < words.
			tasks: map[string][]int32{
				"Zeta":    {1},
				"__acker": {2, 3},
				"count":   {4},
				"split":   {5, 6, 7, 8, 9},
				"words":   {10, 11, 12},
			},
			executors: map[string][][]int32{
				"Zeta":    {{1}},
				"__acker": {{2}, {3}},
				"count":   {{4}},
				"split":   {{5, 7, 9}, {6, 8}},
				"words":   {{10}, {11}, {12}},
			},
			numTasks: 12,
		},
		{
			name:   "no ackers",
			ackers: 0,
			tasks: map[string][]int32{
				"Zeta":  {1},
				"count": {2},
				"split": {3, 4, 5, 6, 7},
				"words": {8, 9, 10},
			},
			executors: map[string][][]int32{
				"Zeta":  {{1}},
				"count": {{2}},
				"split": {{3, 5, 7}, {4, 6}},
				"words": {{8}, {9}, {10}},
			},
			numTasks: 10,
		},
		{
			name:   "one acker",
			ackers: 1,
			tasks: map[string][]int32{
				"Zeta":    {1},
				"__acker": {2},
				"count":   {3},
				"split":   {4, 5, 6, 7, 8},
				"words":   {9, 10, 11},
			},
			executors: map[string][][]int32{
				"Zeta":    {{1}},
				"__acker": {{2}},
				"count":   {{3}},
				"split":   {{4, 6, 8}, {5, 7}},
				"words":   {{9}, {10}, {11}},
			},
			numTasks: 11,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := topology.NewLayout(s, tc.ackers)
			if l.Spec != s {
				t.Error("Layout.Spec is not the spec it was made from")
			}
			if !reflect.DeepEqual(l.Tasks, tc.tasks) {
				t.Errorf("Tasks = %v, want %v", l.Tasks, tc.tasks)
			}
			if !reflect.DeepEqual(l.Executors, tc.executors) {
				t.Errorf("Executors = %v, want %v", l.Executors, tc.executors)
			}
			if l.NumTasks() != tc.numTasks {
				t.Errorf("NumTasks() = %d, want %d", l.NumTasks(), tc.numTasks)
			}
			for comp, tasks := range tc.tasks {
				for _, task := range tasks {
					if got := l.TaskComponent(task); got != comp {
						t.Errorf("TaskComponent(%d) = %q, want %q", task, got, comp)
					}
				}
			}
			for _, task := range []int32{0, -1, tuple.SystemTask, int32(tc.numTasks + 1), 1 << 30} {
				if got := l.TaskComponent(task); got != "" {
					t.Errorf("TaskComponent(%d) = %q, want \"\"", task, got)
				}
			}
		})
	}
}

func TestLayoutDeterministic(t *testing.T) {
	// Every process derives the same numbering from the same spec, whatever the declaration order.
	a := topology.NewBuilder("t")
	a.Spout("s", newSpout, 2).Output("x")
	a.Bolt("b", newBolt, 3).Shuffle("s")
	sa, err := a.Build()
	if err != nil {
		t.Fatal(err)
	}
	b := topology.NewBuilder("t")
	b.Bolt("b", newBolt, 3).Shuffle("s")
	b.Spout("s", newSpout, 2).Output("x")
	sb, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	la, lb := topology.NewLayout(sa, 1), topology.NewLayout(sb, 1)
	if !reflect.DeepEqual(la.Tasks, lb.Tasks) || !reflect.DeepEqual(la.Executors, lb.Executors) {
		t.Errorf("layouts differ: %v vs %v", la.Tasks, lb.Tasks)
	}
	want := map[string][]int32{tuple.AckerID: {1}, "b": {2, 3, 4}, "s": {5, 6}}
	if !reflect.DeepEqual(la.Tasks, want) {
		t.Errorf("Tasks = %v, want %v", la.Tasks, want)
	}
}

func TestLayoutExecutorSplits(t *testing.T) {
	tests := []struct {
		parallelism, tasks int
		want               [][]int32
	}{
		{1, 1, [][]int32{{1}}},
		{1, 4, [][]int32{{1, 2, 3, 4}}},
		{2, 5, [][]int32{{1, 3, 5}, {2, 4}}},
		{3, 7, [][]int32{{1, 4, 7}, {2, 5}, {3, 6}}},
		{4, 4, [][]int32{{1}, {2}, {3}, {4}}},
		// More executors than tasks: one executor per task.
		{5, 2, [][]int32{{1}, {2}}},
	}
	for _, tc := range tests {
		b := topology.NewBuilder("t")
		b.Spout("s", newSpout, tc.parallelism).Tasks(tc.tasks)
		s, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		l := topology.NewLayout(s, 0)
		if got := l.Executors["s"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parallelism %d, tasks %d: executors %v, want %v", tc.parallelism, tc.tasks, got, tc.want)
		}
	}
}

func TestLayoutFields(t *testing.T) {
	l := topology.NewLayout(layoutSpec(t), 1)
	tests := []struct {
		component, stream string
		want              []string // nil: undeclared
	}{
		{"words", tuple.DefaultStream, []string{"sentence"}},
		{"words", "meta", []string{"k", "v"}},
		{"split", tuple.DefaultStream, []string{"word"}},
		{"count", tuple.DefaultStream, []string{"word", "count"}},
		{"words", "nope", nil},
		{"Zeta", tuple.DefaultStream, nil}, // declares no streams
		{"nope", tuple.DefaultStream, nil},
		{tuple.AckerID, tuple.DefaultStream, nil},
	}
	for _, tc := range tests {
		f := l.Fields(tc.component, tc.stream)
		if tc.want == nil {
			if f != nil {
				t.Errorf("Fields(%q, %q) = %v, want nil", tc.component, tc.stream, f)
			}
			continue
		}
		if f == nil {
			t.Errorf("Fields(%q, %q) = nil, want %v", tc.component, tc.stream, tc.want)
			continue
		}
		if !reflect.DeepEqual(f.Names(), tc.want) {
			t.Errorf("Fields(%q, %q) = %v, want %v", tc.component, tc.stream, f.Names(), tc.want)
		}
		for i, name := range tc.want {
			if j, ok := f.Index(name); !ok || j != i {
				t.Errorf("Fields(%q, %q).Index(%q) = %d, %v; want %d", tc.component, tc.stream, name, j, ok, i)
			}
		}
	}
	// The same *Fields is shared by every lookup, so tuples of a stream share one.
	if first, again := l.Fields("words", "meta"), l.Fields("words", "meta"); first != again {
		t.Error("Fields returns a new *Fields per call")
	}
}

func TestContext(t *testing.T) {
	s := layoutSpec(t)
	l := topology.NewLayout(s, 2)
	conf := topology.Config{"a": 1}
	log := hclog.NewNullLogger()
	// split has tasks 5..9.
	ctx := topology.NewContext("t-1-123", l, "split", 7, conf, log)

	if ctx.TopologyID != "t-1-123" || ctx.ComponentID != "split" || ctx.TaskID != 7 {
		t.Errorf("context ids = %q %q %d", ctx.TopologyID, ctx.ComponentID, ctx.TaskID)
	}
	if !reflect.DeepEqual(ctx.Config, conf) {
		t.Errorf("Config = %v", ctx.Config)
	}
	if ctx.Logger() != log {
		t.Error("Logger() is not the logger given")
	}
	if ctx.Layout() != l {
		t.Error("Layout() is not the layout given")
	}
	if got := ctx.ThisTaskIndex(); got != 2 {
		t.Errorf("ThisTaskIndex() = %d, want 2", got)
	}

	tasks := ctx.ComponentTasks("split")
	if want := []int32{5, 6, 7, 8, 9}; !reflect.DeepEqual(tasks, want) {
		t.Fatalf("ComponentTasks(split) = %v, want %v", tasks, want)
	}
	tasks[0] = 99
	_ = append(tasks[:1], 100) // writes tasks[1] in the copy's backing array
	if got := ctx.ComponentTasks("split"); !reflect.DeepEqual(got, []int32{5, 6, 7, 8, 9}) {
		t.Errorf("modifying the result of ComponentTasks changed the layout: %v", got)
	}
	if got := l.Tasks["split"]; !reflect.DeepEqual(got, []int32{5, 6, 7, 8, 9}) {
		t.Errorf("layout tasks changed: %v", got)
	}
	if got := ctx.ComponentTasks(tuple.AckerID); !reflect.DeepEqual(got, []int32{2, 3}) {
		t.Errorf("ComponentTasks(__acker) = %v, want [2 3]", got)
	}
	if got := ctx.ComponentTasks("nope"); len(got) != 0 {
		t.Errorf("ComponentTasks(nope) = %v, want empty", got)
	}

	taskComps := []struct {
		task int32
		want string
	}{
		{1, "Zeta"}, {2, tuple.AckerID}, {4, "count"}, {5, "split"}, {9, "split"}, {10, "words"}, {12, "words"},
		{0, ""}, {13, ""}, {-1, ""},
	}
	for _, tc := range taskComps {
		if got := ctx.TaskComponent(tc.task); got != tc.want {
			t.Errorf("TaskComponent(%d) = %q, want %q", tc.task, got, tc.want)
		}
	}

	if f := ctx.OutputFields("count", tuple.DefaultStream); f == nil || !reflect.DeepEqual(f.Names(), []string{"word", "count"}) {
		t.Errorf("OutputFields(count, default) = %v", f)
	}
	if f := ctx.OutputFields("count", "nope"); f != nil {
		t.Errorf("OutputFields(count, nope) = %v, want nil", f)
	}
}

func TestContextThisTaskIndex(t *testing.T) {
	l := topology.NewLayout(layoutSpec(t), 2)
	tests := []struct {
		component string
		task      int32
		want      int
	}{
		{"split", 5, 0},
		{"split", 6, 1},
		{"split", 9, 4},
		{"words", 10, 0},
		{"words", 12, 2},
		{tuple.AckerID, 3, 1},
		{"Zeta", 1, 0},
		{"split", 10, -1}, // not one of the component's tasks
		{"nope", 1, -1},
	}
	for _, tc := range tests {
		ctx := topology.NewContext("t", l, tc.component, tc.task, nil, nil)
		if got := ctx.ThisTaskIndex(); got != tc.want {
			t.Errorf("%s task %d: ThisTaskIndex() = %d, want %d", tc.component, tc.task, got, tc.want)
		}
	}
}
