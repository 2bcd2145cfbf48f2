package topology_test

import (
	"strings"
	"testing"

	"github.com/sparsestream/sparse/pkg/topology"
)

// sized builds "t" with a spout of the given tasks and parallelism and the given config.
func sized(t *testing.T, name string, tasks, parallelism int, conf topology.Config) *topology.Spec {
	t.Helper()
	b := topology.NewBuilder(name)
	b.Spout("words", newSpout, parallelism).Tasks(tasks).Output("word")
	for k, v := range conf {
		b.Config(k, v)
	}
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

func TestValidateShapeLimits(t *testing.T) {
	small := topology.Limits{TasksPerComponent: 10, Tasks: 20, Executors: 8, Workers: 4, Ackers: 3, ConfigBytes: 200, NameLength: 12}
	tests := []struct {
		name      string
		spec      func(t *testing.T) *topology.Spec
		limits    topology.Limits
		fragments []string // each must be in the error; none: no error
	}{
		{
			name: "within every limit",
			spec: func(t *testing.T) *topology.Spec {
				return sized(t, "t", 10, 2, topology.Config{topology.ConfWorkers: 3})
			},
			limits: small,
		},
		{
			name: "the OOM case: a trillion workers",
			spec: func(t *testing.T) *topology.Spec {
				return sized(t, "big", 1, 1, topology.Config{topology.ConfWorkers: int64(1_000_000_000_000)})
			},
			limits: topology.DefaultLimits,
			fragments: []string{"config topology.workers is 1000000000000; the limit is 10000", "--max-workers",
				"config topology.acker.executors is unset, so it is topology.workers, 1000000000000; the limit is 10000"},
		},
		{
			name:      "tasks per component",
			spec:      func(t *testing.T) *topology.Spec { return sized(t, "t", 11, 1, nil) },
			limits:    small,
			fragments: []string{`component "words": number of tasks is 11; the limit per component is 10`, "--max-tasks-per-component"},
		},
		{
			name: "total tasks, ackers included",
			spec: func(t *testing.T) *topology.Spec {
				s := sized(t, "t", 10, 1, topology.Config{topology.ConfAckerExecutors: 3})
				s2 := sized(t, "t", 10, 1, nil)
				c := *s2.Components[0]
				c.ID = "more"
				s.Components = append(s.Components, &c)
				return s
			},
			limits:    small,
			fragments: []string{"the topology has 23 tasks (3 of them acker tasks); the limit is 20", "--max-tasks"},
		},
		{
			name: "executors",
			spec: func(t *testing.T) *topology.Spec {
				return sized(t, "t", 10, 9, topology.Config{topology.ConfAckerExecutors: 0})
			},
			limits:    small,
			fragments: []string{"the topology has 9 executors (0 of them acker executors); the limit is 8", "--max-executors"},
		},
		{
			name: "ackers",
			spec: func(t *testing.T) *topology.Spec {
				return sized(t, "t", 1, 1, topology.Config{topology.ConfAckerExecutors: 4})
			},
			limits:    small,
			fragments: []string{"config topology.acker.executors is 4; the limit is 3", "--max-ackers"},
		},
		{
			name: "config size",
			spec: func(t *testing.T) *topology.Spec {
				return sized(t, "t", 1, 1, topology.Config{"big": strings.Repeat("x", 300)})
			},
			limits:    small,
			fragments: []string{"bytes as JSON", "the limit is 200", "--max-config-bytes"},
		},
		{
			name:      "topology name length",
			spec:      func(t *testing.T) *topology.Spec { return sized(t, "a-very-long-name", 1, 1, nil) },
			limits:    small,
			fragments: []string{"the topology name is 16 bytes long; the limit is 12"},
		},
		{
			name: "component id length",
			spec: func(t *testing.T) *topology.Spec {
				s := sized(t, "t", 1, 1, nil)
				s.Components[0].ID = "a-long-component"
				return s
			},
			limits:    small,
			fragments: []string{"the component id is 16 bytes long; the limit is 12"},
		},
		{
			name:   "zero limits are the defaults",
			spec:   func(t *testing.T) *topology.Spec { return sized(t, "t", 10_000, 1, nil) },
			limits: topology.Limits{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := topology.ValidateShapeWithin(tt.spec(t), tt.limits)
			if len(tt.fragments) == 0 {
				if err != nil {
					t.Fatalf("ValidateShapeWithin: %v", err)
				}
				return
			}
			ve := mustValidationError(t, err)
			for _, f := range tt.fragments {
				if !strings.Contains(ve.Error(), f) {
					t.Errorf("error lacks %q:\n%v", f, ve)
				}
			}
		})
	}
}

// TestValidateIgnoresLimits: a topology built in code and run by its own process (local
// mode, a worker) is not held to a cluster's limits.
func TestValidateIgnoresLimits(t *testing.T) {
	s := sized(t, "t", 1, 1, topology.Config{topology.ConfWorkers: 20_000})
	if err := topology.Validate(s); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := topology.ValidateShape(s); err == nil || !strings.Contains(err.Error(), "topology.workers") {
		t.Fatalf("ValidateShape = %v, want the workers limit", err)
	}
}

func TestLimitsCheck(t *testing.T) {
	l := topology.DefaultLimits
	l.Workers = topology.MaxLimits.Workers + 1
	l.Tasks = -1
	errs := l.Check(func(f string) string { return "--" + f })
	got := ""
	for _, e := range errs {
		got += e.Error() + "\n"
	}
	for _, want := range []string{"--Workers is 100001; it can be raised to 100000 at most", "--Tasks is -1; it must be at least 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("Check lacks %q:\n%s", want, got)
		}
	}
	if errs := topology.DefaultLimits.Check(func(f string) string { return f }); len(errs) != 0 {
		t.Errorf("DefaultLimits fail their own check: %v", errs)
	}
}
