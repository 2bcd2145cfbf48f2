package cluster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWorkerProblems: a reported problem is listed under its topology only, cut to its
// last bytes when long, and gone once its registration is closed; a bad record is
// refused.
func TestWorkerProblems(t *testing.T) {
	s := newStore(t, startEtcd(t), Options{})
	ctx := context.Background()
	long := strings.Repeat("x", 3*maxProblemBytes) + "the end"
	reg, err := s.ReportWorkerProblem(ctx, &WorkerProblem{TopologyID: "t1", WorkerID: "s1:6700", Supervisor: "s1", Problem: long}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReportWorkerProblem(ctx, &WorkerProblem{TopologyID: "t10", WorkerID: "s1:6701", Problem: "other"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ListWorkerProblems(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].WorkerID != "s1:6700" || !strings.HasSuffix(ps[0].Problem, "the end") || len(ps[0].Problem) > maxProblemBytes || ps[0].Time.IsZero() {
		t.Fatalf("problems of t1 = %+v", ps)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.ListWorkerProblems(ctx, "t1"); err != nil || len(ps) != 0 {
		t.Errorf("after Close: %v, %v", ps, err)
	}
	if _, err := s.ReportWorkerProblem(ctx, &WorkerProblem{TopologyID: "t1", WorkerID: "s1:6700"}, 5*time.Second); err == nil {
		t.Error("an empty problem was accepted")
	}
	if _, err := s.ListWorkerProblems(ctx, "a/b"); err == nil {
		t.Error("a bad topology id was accepted")
	}
}
