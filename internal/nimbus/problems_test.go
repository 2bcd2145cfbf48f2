package nimbus

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparsestream/sparse/internal/cluster"
	"github.com/sparsestream/sparse/internal/testutil"
)

// TestWorkerProblems: the problems are read by worker id; a record that does not decode
// is reported beside the others, and a failed read is an error, not silence.
func TestWorkerProblems(t *testing.T) {
	for _, tc := range []struct {
		name      string
		problem   bool // a supervisor reports a problem of worker s1:6700
		corrupt   bool // a record under the topology's problems that does not decode
		cancelled bool // the read fails
		want      []string
		wantErr   string
	}{
		{name: "none"},
		{name: "one", problem: true, want: []string{"s1:6700"}},
		{name: "one and a corrupt record", problem: true, corrupt: true, want: []string{"s1:6700"}, wantErr: "s1:6701"},
		{name: "a failed read", problem: true, cancelled: true, wantErr: "could not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startNimbus(t, fast(t, testRoot(t)))
			ctx := testutil.Context(t, 20*time.Second)
			if tc.problem {
				reg, err := s.store.ReportWorkerProblem(ctx, &cluster.WorkerProblem{TopologyID: "wc-1", WorkerID: "s1:6700", Supervisor: "s1", Problem: "pip failed"}, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer reg.Close(context.Background())
			}
			if tc.corrupt {
				key := s.store.Keys().WorkerProblemKey("wc-1", "s1:6701")
				if _, err := s.store.Client().Put(ctx, key, "not json"); err != nil {
					t.Fatal(err)
				}
			}
			rctx := ctx
			if tc.cancelled {
				var cancel context.CancelFunc
				rctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			got, err := s.workerProblems(rctx, "wc-1")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("workerProblems: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("workerProblems: error %v, want one with %q", err, tc.wantErr)
			}
			var ids []string
			for id := range got {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) {
				t.Errorf("problems of workers %v, want %v", ids, tc.want)
			}
		})
	}
}
