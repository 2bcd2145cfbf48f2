package supervisor

import (
	"sync"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
)

// fakeProblems records what is reported and withdrawn.
type fakeProblems struct {
	mu      sync.Mutex
	current map[string]string // worker id -> problem
	reports int
}

func (f *fakeProblems) Report(p cluster.WorkerProblem) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current[p.WorkerID] = p.Problem
	f.reports++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.current[p.WorkerID] == p.Problem {
			delete(f.current, p.WorkerID)
		}
	}
}

func (f *fakeProblems) get(worker string) (string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current[worker], f.reports
}

// TestManagerReportsStartProblems: a worker that cannot start has its problem
// published once (not once per retry), and withdrawn once it runs.
func TestManagerReportsStartProblems(t *testing.T) {
	f := newManagerFixture(t)
	probs := &fakeProblems{current: map[string]string{}}
	m := f.start(func(c *ManagerConfig) { c.Problems = probs })
	defer m.stop()
	broken := f.want
	broken.Problem = "the virtualenv of topology topo-1: pip could not install requirement \"nosuchpkg\""
	m.Update([]Want{broken})
	testutil.Eventually(t, 10*time.Second, "the problem to be reported", func() bool {
		p, _ := probs.get(f.want.WorkerID)
		return p == broken.Problem
	})
	testutil.Eventually(t, 10*time.Second, "a few retries", func() bool { return m.slot().Restarts >= 2 || m.slot().Failures >= 2 })
	if _, n := probs.get(f.want.WorkerID); n != 1 {
		t.Errorf("the problem was reported %d times, want once", n)
	}
	m.Update([]Want{f.want})
	testutil.Eventually(t, 20*time.Second, "the worker to run and its problem to be withdrawn", func() bool {
		p, _ := probs.get(f.want.WorkerID)
		return m.slot().Phase == Running && p == ""
	})
}
