package worker

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func notLeader(addr string) error {
	st, _ := status.New(codes.FailedPrecondition, "not the leader").WithDetails(&errdetails.ErrorInfo{
		Reason: "NOT_LEADER", Domain: "sparse", Metadata: map[string]string{"leader_id": "n", "leader_address": addr}})
	return st.Err()
}

// TestReportOnce: a report goes to the first nimbus that takes it, follows a standby to
// the leader it names, and tries each address at most once.
func TestReportOnce(t *testing.T) {
	down := errors.New("connection refused")
	tests := []struct {
		name       string
		candidates []string
		answers    map[string]error
		took       string
		calls      []string
	}{
		{"the leader takes it", []string{"a", "b"}, map[string]error{"a": nil}, "a", []string{"a"}},
		{"a dead nimbus is skipped", []string{"a", "b"}, map[string]error{"a": down, "b": nil}, "b", []string{"a", "b"}},
		{"a standby names the leader", []string{"a", "b"}, map[string]error{"a": notLeader("c"), "c": nil}, "c", []string{"a", "c"}},
		{"standbys naming each other end", []string{"a", "b"}, map[string]error{"a": notLeader("b"), "b": notLeader("a")}, "", []string{"a", "b"}},
		{"nobody", []string{"a"}, map[string]error{"a": down}, "", []string{"a"}},
	}
	w := &Worker{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			took, err := w.reportOnce(tt.candidates, func(addr string) error {
				calls = append(calls, addr)
				return tt.answers[addr]
			})
			if took != tt.took || (took == "") != (err != nil) || !slices.Equal(calls, tt.calls) {
				t.Errorf("took %q (%v) after calling %v; want %q after %v", took, err, calls, tt.took, tt.calls)
			}
		})
	}
}
