package nimbus

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// TestUpdateVirtualenv: update-virtualenv counts a new virtualenv generation in a spec
// bundle topology's record, once per call, and is refused for a Go topology binary and
// an unknown topology.
func TestUpdateVirtualenv(t *testing.T) {
	s := startNimbus(t, fast(t, testRoot(t)))
	waitLeader(t, s)
	c := dial(t, s.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := artifact(1000)
	bundle := header(t, wordcount("py"), data, nil)
	bundle.Kind = sparsev1.ArtifactKind_ARTIFACT_KIND_SPEC_BUNDLE
	pyID, err := submit(ctx, c, bundle, data)
	if err != nil {
		t.Fatal(err)
	}
	goData := artifact(1001)
	if _, err := submit(ctx, c, header(t, wordcount("gobin"), goData, nil), goData); err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 2; want++ {
		r, err := c.UpdateVirtualenv(ctx, &sparsev1.TopologyRef{Name: "py"})
		if err != nil || r.GetGeneration() != want || r.GetTopologyId() != pyID {
			t.Fatalf("UpdateVirtualenv #%d = %v, %v; want generation %d of %s", want, r, err, want, pyID)
		}
		rec, err := s.Store().GetTopology(ctx, pyID)
		if err != nil || rec.VenvGeneration != want {
			t.Fatalf("the record's generation: %+v, %v; want %d", rec, err, want)
		}
	}
	for _, tc := range []struct {
		name string
		code codes.Code
		want string
	}{
		{"gobin", codes.FailedPrecondition, "is a Go topology binary, which has no Python virtualenv"},
		{"nope", codes.NotFound, "nope"},
	} {
		_, err := c.UpdateVirtualenv(ctx, &sparsev1.TopologyRef{Name: tc.name})
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("UpdateVirtualenv(%s) = %v; want %v saying %q", tc.name, err, tc.code, tc.want)
		}
	}
}
