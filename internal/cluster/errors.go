package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors to test for with errors.Is.
var (
	// ErrNotFound: no record under that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-swap lost; someone else changed the record first.
	ErrConflict = errors.New("changed concurrently")
	// ErrNotLeader: a write fenced by a Leadership was refused because that leadership
	// has ended.
	ErrNotLeader = errors.New("this nimbus is no longer the leader")
	// ErrNoLeader: no nimbus currently leads.
	ErrNoLeader = errors.New("no nimbus is the leader")
	// ErrUnreachable: etcd did not answer.
	ErrUnreachable = errors.New("etcd is unreachable")
)

// InvalidRecordError is a value under one of sparse's keys that does not decode into a
// valid record.
type InvalidRecordError struct {
	Key  string
	Kind string // "topology", "supervisor", ...
	Err  error
}

func (e *InvalidRecordError) Error() string {
	return fmt.Sprintf("etcd key %s does not hold a valid %s record: %v; rewrite or delete that key", e.Key, e.Kind, e.Err)
}

func (e *InvalidRecordError) Unwrap() error { return e.Err }

// UnreachableError is an etcd that could not be reached. errors.Is(err, ErrUnreachable)
// holds for it.
type UnreachableError struct {
	Endpoints []string
	Err       error
	// Hint, when set, is the likely reason found (a TLS set-up that does not match
	// etcd's) and replaces the generic advice.
	Hint string
}

func (e *UnreachableError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("cannot reach etcd at [%s]: %v; %s", strings.Join(e.Endpoints, ", "), e.Err, e.Hint)
	}
	return fmt.Sprintf("cannot reach etcd at [%s]: %v; check --etcd-endpoints and that etcd is running", strings.Join(e.Endpoints, ", "), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// unavailable reports whether err means that etcd did not answer (as opposed to
// answering no).
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrNoLeader) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail) ||
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// wrap gives an etcd error the context of what was being done, and the hint about the
// endpoints when etcd did not answer.
func (s *Store) wrap(what string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("%s: %w", what, &UnreachableError{Endpoints: s.Endpoints(), Err: err})
	}
	return fmt.Errorf("%s: %w", what, err)
}
