package stats

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// report is one worker's report of one spout executor that acked n.
func report(worker, inc string, started time.Time, acked int64) Report {
	return Report{Topology: "t-1", Worker: worker, Incarnation: inc, Started: started, Executors: []Sample{
		{Component: "spout", Kind: "spout", FirstTask: 1, LastTask: 2, Counters: Counters{Acked: acked, Emitted: acked}},
	}}
}

func TestIngestAcrossRestartsAndFailover(t *testing.T) {
	type step struct {
		at time.Duration // after t0
		r  Report
	}
	early := t0.Add(-time.Hour) // started before the store
	tests := []struct {
		name  string
		steps []step
		query time.Duration
		w     Window
		want  int64
	}{
		{"deltas of one incarnation add up", []step{
			{1 * time.Second, report("w1", "a", t0, 10)},
			{5 * time.Second, report("w1", "a", t0, 25)},
			{9 * time.Second, report("w1", "a", t0, 40)},
		}, 10 * time.Second, Window10m, 40},
		{"a restarted worker's counts from zero are added, not subtracted", []step{
			{1 * time.Second, report("w1", "a", t0, 100)},
			{5 * time.Second, report("w1", "b", t0.Add(3*time.Second), 7)},
			{9 * time.Second, report("w1", "b", t0.Add(3*time.Second), 30)},
		}, 10 * time.Second, WindowAllTime, 130},
		{"a new store takes an older incarnation's first report as its base", []step{
			{1 * time.Second, report("w1", "a", early, 5000)},
			{5 * time.Second, report("w1", "a", early, 5020)},
		}, 10 * time.Second, WindowAllTime, 20},
		{"old and new workers that overlap do not count each other's totals", []step{
			{1 * time.Second, report("w1", "a", t0, 100)},
			{2 * time.Second, report("w1", "b", t0.Add(time.Second), 10)},
			{3 * time.Second, report("w1", "a", t0, 110)},
			{4 * time.Second, report("w1", "b", t0.Add(time.Second), 20)},
		}, 5 * time.Second, WindowAllTime, 130},
		{"a counter that goes down adds nothing", []step{
			{1 * time.Second, report("w1", "a", t0, 50)},
			{2 * time.Second, report("w1", "a", t0, 40)},
			{3 * time.Second, report("w1", "a", t0, 45)},
		}, 5 * time.Second, WindowAllTime, 55},
		{"the 10-minute window forgets older figures", []step{
			{1 * time.Second, report("w1", "a", t0, 100)},
			{20 * time.Minute, report("w1", "a", t0, 130)},
		}, 21 * time.Minute, Window10m, 30},
		{"the 3-hour window keeps them", []step{
			{1 * time.Second, report("w1", "a", t0, 100)},
			{20 * time.Minute, report("w1", "a", t0, 130)},
		}, 21 * time.Minute, Window3h, 130},
		{"the day window forgets after a day, all time does not", []step{
			{1 * time.Second, report("w1", "a", t0, 100)},
			{26 * time.Hour, report("w1", "a", t0, 101)},
		}, 26 * time.Hour, Window1d, 1},
		{"two workers add up", []step{
			{1 * time.Second, report("w1", "a", t0, 10)},
			{1 * time.Second, Report{Topology: "t-1", Worker: "w2", Incarnation: "c", Started: t0, Executors: []Sample{
				{Component: "spout", Kind: "spout", FirstTask: 3, LastTask: 3, Counters: Counters{Acked: 5}}}}},
		}, 2 * time.Second, Window10m, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(t0)
			for _, st := range tt.steps {
				s.Ingest(t0.Add(st.at), st.r)
			}
			ts, ok := s.Topology("t-1", tt.w, t0.Add(tt.query))
			if !ok {
				t.Fatal("no figures for the topology")
			}
			if ts.Spouts.Acked != tt.want {
				t.Errorf("acked in %s = %d, want %d", tt.w.Label(), ts.Spouts.Acked, tt.want)
			}
		})
	}
}

func TestDerivedFigures(t *testing.T) {
	s := NewStore(t0)
	bolt := func(executed, execSum int64, qlen int) Report {
		return Report{Topology: "t", Worker: "w", Incarnation: "i", Started: t0, Executors: []Sample{{
			Component: "count", Kind: "bolt", FirstTask: 4, LastTask: 5,
			Counters:    Counters{Executed: executed, ExecuteCount: executed / 10, ExecuteSumNanos: execSum, ProcessCount: 2, ProcessSumNanos: 6e6},
			QueueLength: qlen, QueueCap: 8, LastError: "boom", LastErrorAt: t0.Add(time.Second),
		}}}
	}
	s.Ingest(t0, bolt(0, 0, 0))
	// 1000 executed at 5ms each over 10 s: half the time.
	s.Ingest(t0.Add(10*time.Second), bolt(1000, 100*int64(5*time.Millisecond), 2))
	ts, _ := s.Topology("t", Window10m, t0.Add(10*time.Second))
	c, execs, ok := ts.Component("count")
	if !ok || len(execs) != 1 {
		t.Fatalf("component count: ok %v, %d executors", ok, len(execs))
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"capacity", c.Capacity, 0.5},
		{"execute latency", c.ExecuteLatency(), 5 * time.Millisecond},
		{"process latency", c.ProcessLatency(), 3 * time.Millisecond},
		{"queue fill", c.QueueFill, 0.25},
		{"tasks", c.Tasks, 2},
		{"last error", c.LastError, "boom"},
		{"since", ts.Since, t0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestPrune(t *testing.T) {
	s := NewStore(t0)
	s.Ingest(t0, report("w1", "a", t0, 1))
	s.Prune(t0, func(string) bool { return true })
	if _, ok := s.Topology("t-1", WindowAllTime, t0); !ok {
		t.Fatal("a kept topology was pruned")
	}
	s.Prune(t0, func(string) bool { return false })
	if _, ok := s.Topology("t-1", WindowAllTime, t0); ok {
		t.Fatal("a killed topology's figures were kept")
	}
}

func TestParseWindow(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Window
		err  bool
	}{
		{"", Window10m, false}, {"600", Window10m, false}, {"10m", Window10m, false},
		{"10800", Window3h, false}, {"3h", Window3h, false}, {"86400", Window1d, false}, {"1d", Window1d, false},
		{":all-time", WindowAllTime, false}, {"all", WindowAllTime, false}, {"5m", Window{}, true},
	} {
		got, err := ParseWindow(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseWindow(%q) = %v, %v", tt.in, got, err)
		}
	}
}
