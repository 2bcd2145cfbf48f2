package ctl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/wire"
	"github.com/sparsestream/sparse/pkg/topology"
)

// List returns the topologies that are not killed.
func (c *Client) List(ctx context.Context) ([]*sparsev1.TopologySummary, error) {
	var out []*sparsev1.TopologySummary
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		r, err := n.List(ctx, &sparsev1.ListRequest{})
		out = r.GetTopologies()
		return err
	})
	return out, err
}

// Describe returns a topology by name or id.
func (c *Client) Describe(ctx context.Context, name string) (*sparsev1.TopologyDescription, error) {
	var out *sparsev1.TopologyDescription
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.Describe(ctx, &sparsev1.TopologyRef{Name: name})
		return err
	})
	return out, err
}

// Supervisors returns the live supervisors.
func (c *Client) Supervisors(ctx context.Context) ([]*sparsev1.SupervisorDescription, error) {
	var out []*sparsev1.SupervisorDescription
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		r, err := n.ListSupervisors(ctx, &sparsev1.ListSupervisorsRequest{})
		out = r.GetSupervisors()
		return err
	})
	return out, err
}

// LeaderInfo is the answer to Leader: which nimbus leads, as told by the one that
// answered.
type LeaderInfo struct {
	LeaderID      string `json:"leader_id"`
	LeaderAddress string `json:"leader_address"`
	AnsweredBy    string `json:"answered_by"`
	// AnsweredByLeader: the nimbus that answered is the leader.
	AnsweredByLeader bool `json:"answered_by_leader"`
}

// Leader asks the first reachable nimbus which nimbus leads.
func (c *Client) Leader(ctx context.Context) (LeaderInfo, error) {
	var r *sparsev1.LeaderReply
	addr, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		r, err = n.Leader(ctx, &sparsev1.LeaderRequest{})
		return err
	})
	if err != nil {
		return LeaderInfo{}, err
	}
	return LeaderInfo{LeaderID: r.GetLeaderId(), LeaderAddress: r.GetLeaderAddress(), AnsweredBy: addr, AnsweredByLeader: r.GetIsLeader()}, nil
}

// Kill asks the leader to kill a topology after waitSecs (negative: the topology's
// message timeout; 0: at once).
func (c *Client) Kill(ctx context.Context, name string, waitSecs int32) error {
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		_, err := n.Kill(ctx, &sparsev1.KillRequest{Name: name, WaitSecs: waitSecs})
		return err
	})
	return err
}

// Activate asks the leader to activate a topology's spouts.
func (c *Client) Activate(ctx context.Context, name string) error {
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		_, err := n.Activate(ctx, &sparsev1.TopologyRef{Name: name})
		return err
	})
	return err
}

// Deactivate asks the leader to deactivate a topology's spouts.
func (c *Client) Deactivate(ctx context.Context, name string) error {
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		_, err := n.Deactivate(ctx, &sparsev1.TopologyRef{Name: name})
		return err
	})
	return err
}

// Rebalance asks the leader to change a topology's workers (0 keeps them) and executor
// counts, deactivating it for waitSecs first (negative: its message timeout).
func (c *Client) Rebalance(ctx context.Context, r *sparsev1.RebalanceRequest) error {
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		_, err := n.Rebalance(ctx, r)
		return err
	})
	return err
}

// ParseExecutors parses rebalance's -e component=N values.
func ParseExecutors(vals []string) (map[string]int32, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]int32, len(vals))
	for _, v := range vals {
		comp, num, ok := strings.Cut(v, "=")
		comp = strings.TrimSpace(comp)
		if !ok || comp == "" {
			return nil, fmt.Errorf("-e %q is not component=N; write for example -e split=4", v)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 32)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-e %s: %q is not a number of executors of at least 1", v, num)
		}
		if _, dup := out[comp]; dup {
			return nil, fmt.Errorf("-e gives component %q more than once; give it once", comp)
		}
		out[comp] = int32(n)
	}
	return out, nil
}

// MessageTimeout is the text a wait flag shows for "the topology's message timeout".
const MessageTimeout = "message-timeout"

// WaitFlag is a --wait flag: a duration in whole seconds, or the topology's message
// timeout (WaitSecs -1). Bare numbers are seconds, as in Storm's `kill -w 10`.
type WaitFlag struct{ secs int32 }

// NewWaitFlag returns a flag whose default is the message timeout.
func NewWaitFlag() *WaitFlag { return &WaitFlag{secs: -1} }

// WaitSecs is the flag's value as the API's wait_secs.
func (w *WaitFlag) WaitSecs() int32 { return w.secs }

// String implements pflag.Value.
func (w *WaitFlag) String() string {
	if w.secs < 0 {
		return MessageTimeout
	}
	return (time.Duration(w.secs) * time.Second).String()
}

// Type implements pflag.Value.
func (w *WaitFlag) Type() string { return "duration" }

// Set implements pflag.Value.
func (w *WaitFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	switch s {
	case MessageTimeout, "":
		w.secs = -1
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.ParseInt(s, 10, 64)
		if nerr != nil {
			return fmt.Errorf("%q is neither a duration such as 30s or 2m nor %q", s, MessageTimeout)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return fmt.Errorf("%s is negative; give 0 to stop at once, or a positive duration", s)
	}
	secs := math.Ceil(d.Seconds())
	if secs > math.MaxInt32 {
		return fmt.Errorf("%s is too long", s)
	}
	w.secs = int32(secs)
	return nil
}

// DescribeWait says when a wait of requested seconds ends, for messages; effective is
// the topology's message timeout when requested is negative (negative: unknown).
func DescribeWait(requested int32, effective int) string {
	switch {
	case requested < 0 && effective >= 0:
		return fmt.Sprintf("after %s (its message timeout)", time.Duration(effective)*time.Second)
	case requested < 0:
		return "after its message timeout"
	case requested == 0:
		return "at once"
	}
	return "after " + (time.Duration(requested) * time.Second).String()
}

// MessageTimeout reads a topology's topology.message.timeout.secs (default 30) with
// Describe.
func (c *Client) MessageTimeout(ctx context.Context, name string) (int, error) {
	d, err := c.Describe(ctx, name)
	if err != nil {
		return 0, err
	}
	conf, err := wire.MapFromProto(d.GetConfig())
	if err != nil {
		return 0, err
	}
	n, err := topology.Config(conf).Int(topology.ConfMessageTimeoutSecs, topology.DefaultMessageTimeoutSecs)
	if err != nil || n < 0 {
		return topology.DefaultMessageTimeoutSecs, nil
	}
	return int(min(n, 24*3600)), nil
}

// TimedOut tells whether err is the end of a command's time rather than an answer.
func TimedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// WaitActive polls Describe until the topology is active with every worker assigned and
// alive, or ctx ends; then the error says what was still missing.
func (c *Client) WaitActive(ctx context.Context, name string, every time.Duration) (*sparsev1.TopologyDescription, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	why := "nimbus did not answer"
	for {
		d, err := c.Describe(ctx, name)
		if err == nil {
			var ok bool
			if ok, why = Running(d); ok {
				return d, nil
			}
		} else if c := status.Code(err); ctx.Err() == nil && c != codes.DeadlineExceeded && c != codes.Canceled {
			// A call cut short by the end of the wait says nothing new.
			why = err.Error()
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("topology %s is not running yet: %s", name, why)
		case <-t.C:
		}
	}
}

// Running tells whether a topology is active with all its workers assigned and alive,
// and if not, why.
func Running(d *sparsev1.TopologyDescription) (bool, string) {
	s := d.GetSummary()
	if st := s.GetStatus(); st != "active" {
		return false, fmt.Sprintf("its status is %q", st)
	}
	ws := d.GetWorkers()
	if len(ws) == 0 {
		return false, "no worker is assigned" + schedulingNote(s)
	}
	if want := s.GetRequestedWorkers(); want > 0 && int32(len(ws)) < want {
		return false, fmt.Sprintf("%d of %d workers are assigned%s", len(ws), want, schedulingNote(s))
	}
	var dead []string
	for _, w := range ws {
		if !w.GetAlive() {
			dead = append(dead, w.GetId())
		}
	}
	if len(dead) > 0 {
		sort.Strings(dead)
		return false, fmt.Sprintf("%d of %d workers are not alive yet (%s)", len(dead), len(ws), strings.Join(dead, ", "))
	}
	return true, ""
}

func schedulingNote(s *sparsev1.TopologySummary) string {
	if r := s.GetScheduling(); r != "" {
		return "; scheduling: " + r
	}
	return ""
}

// UpdateVirtualenv asks the leader to have every supervisor build a spec bundle
// topology's virtualenv again and restart its workers with it.
func (c *Client) UpdateVirtualenv(ctx context.Context, name string) (*sparsev1.UpdateVirtualenvReply, error) {
	var out *sparsev1.UpdateVirtualenvReply
	_, err := c.call(ctx, func(ctx context.Context, n sparsev1.NimbusClient) error {
		var err error
		out, err = n.UpdateVirtualenv(ctx, &sparsev1.TopologyRef{Name: name})
		return err
	})
	return out, err
}
