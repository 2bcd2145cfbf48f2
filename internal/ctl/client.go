package ctl

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
	"github.com/sparsestream/sparse/internal/retry"
)

// Defaults for ClientOptions.
const (
	// DefaultConnectTimeout bounds one attempt to connect to one nimbus.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultElectionWait is how long a call keeps trying while no nimbus leads.
	DefaultElectionWait = 10 * time.Second
)

// Client talks to a set of nimbus daemons. State-changing calls go to the leader: a
// standby's FAILED_PRECONDITION "not the leader; the leader is nimbus X at ADDR" sends
// the call there; an unreachable nimbus sends it to the next address. Reads are answered
// by whichever nimbus is reachable first.
type Client struct {
	addrs          []string
	from           string
	connectTimeout time.Duration
	electionWait   time.Duration
	token          string
	creds          credentials.TransportCredentials

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// From says where the addresses came from, for error messages (Resolved.From).
	From string
	// ConnectTimeout bounds one connection attempt (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// ElectionWait is how long a call keeps trying while nimbus says no nimbus leads
	// (default DefaultElectionWait; negative: do not wait).
	ElectionWait time.Duration
	// Token, when set, is sent with every call ("authorization: Bearer <token>").
	Token string
	// Creds secure the connections (nil: plaintext, for a cluster without TLS).
	Creds credentials.TransportCredentials
}

// NewClient returns a client for the nimbus addresses, tried in order. It connects
// lazily; Close releases the connections.
func NewClient(addrs []string, o ClientOptions) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no nimbus address given")
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ElectionWait == 0 {
		o.ElectionWait = DefaultElectionWait
	}
	if o.Creds == nil {
		o.Creds = insecure.NewCredentials()
	}
	return &Client{addrs: append([]string(nil), addrs...), from: o.From, connectTimeout: o.ConnectTimeout, electionWait: o.ElectionWait,
		token: o.Token, creds: o.Creds, conns: map[string]*grpc.ClientConn{}}, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for a, cc := range c.conns {
		errs = append(errs, cc.Close())
		delete(c.conns, a)
	}
	return errors.Join(errs...)
}

func (c *Client) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(c.creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: c.connectTimeout}),
	}
	if c.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(c.token)))
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("nimbus address %s: %w", addr, err)
	}
	c.conns[addr] = cc
	return cc, nil
}

// NimbusError is an answer of a reachable nimbus that refused or failed a call. It keeps
// the gRPC status (status.FromError and status.Code see it).
type NimbusError struct {
	Addr   string
	Status *status.Status
}

func (e *NimbusError) Error() string {
	msg := e.Status.Message()
	switch e.Status.Code() {
	case codes.DeadlineExceeded:
		msg = "no answer in time (" + msg + "); raise --timeout"
	case codes.Unimplemented:
		msg = "nimbus does not implement this call (" + msg + "); is it an older version than sparsectl?"
	}
	return fmt.Sprintf("nimbus %s: %s", e.Addr, msg)
}

// GRPCStatus lets status.FromError and status.Code read the status.
func (e *NimbusError) GRPCStatus() *status.Status { return e.Status }

// notLeaderRE reads the leader out of a standby's refusal.
var notLeaderRE = regexp.MustCompile(`the leader is nimbus (.*?) at ([^\s;,]+)`)

// ParseNotLeader tells whether err is a standby's "not the leader" refusal
// (FAILED_PRECONDITION) and, when it names it, the leader's id and address: from the
// refusal's ErrorInfo detail (reason NOT_LEADER, metadata leader_id and leader_address)
// when there is one, else from the message.
func ParseNotLeader(err error) (isNotLeader bool, leaderID, leaderAddr string) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return false, "", ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "NOT_LEADER" {
			md := info.GetMetadata()
			return true, md["leader_id"], md["leader_address"]
		}
	}
	if !strings.Contains(st.Message(), "not the leader") {
		return false, "", ""
	}
	m := notLeaderRE.FindStringSubmatch(st.Message())
	if m == nil {
		return true, "", ""
	}
	return true, m[1], strings.TrimRight(m[2], ".")
}

// electing tells whether err is a nimbus saying that no nimbus leads yet (UNAVAILABLE
// from the server itself, naming the leadership), which passes once an election ends.
func electing(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unavailable && strings.Contains(st.Message(), "leader")
}

// unreachable tells whether err means the nimbus could not be reached (try another):
// nothing answered, or something that is not a gRPC server did.
func unreachable(err error) bool {
	return status.Code(err) == codes.Unavailable || notGRPC(err)
}

// notGRPC tells whether the answer came from something that speaks HTTP but not gRPC,
// such as a web server or a proxy on the address.
func notGRPC(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.OK {
		return false
	}
	m := st.Message()
	return strings.Contains(m, "unexpected HTTP status code") || strings.Contains(m, "malformed header: missing HTTP content-type") ||
		strings.Contains(m, "error reading server preface")
}

// reason shortens a connection error for the final message.
func (c *Client) reason(err error) string {
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
	}
	plaintext := c.creds.Info().SecurityProtocol != "tls"
	switch {
	case notGRPC(err) && plaintext:
		return "something answers there, but not a nimbus gRPC server (" + msg + "); if the cluster runs TLS, pass --tls-ca"
	case notGRPC(err):
		return "something answers there, but not a nimbus gRPC server (" + msg + ")"
	case !plaintext && strings.Contains(msg, "authentication handshake failed"):
		return "the TLS handshake failed (" + msg + "); check --tls-ca, --tls-cert and --tls-key"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "no such host"):
		return "no such host"
	case strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "deadline exceeded"):
		return fmt.Sprintf("no connection within %s", c.connectTimeout)
	case strings.Contains(msg, "network is unreachable"):
		return "network is unreachable"
	}
	return msg
}

// call runs fn against the nimbus addresses in order until one answers: on
// Unavailable it tries the next address; on a standby's "not the leader" it retries
// once against the leader the standby names. While an election is under way (a nimbus
// says no nimbus leads yet) it tries again for up to ElectionWait. It returns the
// address that answered. Any other answer, success or failure, is final. fn must be safe
// to run again.
func (c *Client) call(ctx context.Context, fn func(context.Context, sparsev1.NimbusClient) error) (string, error) {
	start := time.Now()
	pause := retry.New(250*time.Millisecond, 2*time.Second)
	for {
		addr, tryAgain, err := c.pass(ctx, fn)
		d := pause.Next()
		if !tryAgain || time.Since(start)+d > c.electionWait {
			return addr, err
		}
		if retry.Sleep(ctx, d) != nil {
			return addr, err
		}
	}
}

// pass tries every address once; tryAgain reports that some nimbus said an election is
// under way.
func (c *Client) pass(ctx context.Context, fn func(context.Context, sparsev1.NimbusClient) error) (_ string, tryAgain bool, _ error) {
	var failures []string
	allUnreachable := true
	tried := map[string]bool{}
	attempt := func(addr string) error {
		tried[addr] = true
		cc, err := c.conn(addr)
		if err != nil {
			return err
		}
		return fn(ctx, sparsev1.NewNimbusClient(cc))
	}
	final := func(addr string, err error) (string, bool, error) {
		if st, ok := status.FromError(err); ok && err != nil {
			return addr, false, &NimbusError{Addr: addr, Status: st}
		}
		return addr, false, err
	}
	stopped := func(addr string) (string, bool, error) {
		return addr, false, fmt.Errorf("nimbus %s: %w", addr, ctx.Err())
	}
	for _, addr := range c.addrs {
		if tried[addr] {
			continue
		}
		err := attempt(addr)
		if ctx.Err() != nil {
			return stopped(addr)
		}
		if electing(err) {
			allUnreachable, tryAgain = false, true
			failures = append(failures, addr+": "+status.Convert(err).Message())
			continue
		}
		if unreachable(err) {
			failures = append(failures, addr+": "+c.reason(err))
			continue
		}
		notLeader, leaderID, leaderAddr := ParseNotLeader(err)
		if !notLeader {
			return final(addr, err)
		}
		allUnreachable = false
		if leaderAddr == "" {
			// The refusal does not say where the leader is: ask.
			if lr, lerr := c.leaderAt(ctx, addr); lerr == nil {
				leaderID, leaderAddr = lr.GetLeaderId(), lr.GetLeaderAddress()
			}
		}
		if leaderAddr == "" {
			tryAgain = true
			failures = append(failures, addr+": a standby, and no leader is elected yet")
			continue
		}
		if leaderAddr == addr || tried[leaderAddr] {
			failures = append(failures, fmt.Sprintf("%s: a standby naming nimbus %s at %s as the leader, which did not take the call", addr, leaderID, leaderAddr))
			continue
		}
		lerr := attempt(leaderAddr)
		if ctx.Err() != nil {
			return stopped(leaderAddr)
		}
		switch again, _, _ := ParseNotLeader(lerr); {
		case electing(lerr):
			tryAgain = true
			failures = append(failures, fmt.Sprintf("%s: a standby; its leader nimbus %s at %s: %s", addr, leaderID, leaderAddr, status.Convert(lerr).Message()))
		case unreachable(lerr):
			failures = append(failures, fmt.Sprintf("%s: a standby; its leader nimbus %s at %s: %s", addr, leaderID, leaderAddr, c.reason(lerr)))
		case again:
			tryAgain = true
			failures = append(failures, fmt.Sprintf("%s: a standby; its leader nimbus %s at %s says it is not the leader either (leadership is changing; try again)", addr, leaderID, leaderAddr))
		default:
			return final(leaderAddr, lerr)
		}
	}
	hint := "is nimbusd running? check --nimbus / " + EnvNimbus + " / --env"
	if c.from != "" {
		hint += " (the addresses came from " + c.from + ")"
	}
	if allUnreachable {
		return "", false, fmt.Errorf("cannot reach any nimbus: %s — %s", strings.Join(failures, "; "), hint)
	}
	return "", tryAgain, fmt.Errorf("cannot reach the leading nimbus: %s — if an election is under way, try again in a few seconds; otherwise %s", strings.Join(failures, "; "), hint)
}

func (c *Client) leaderAt(ctx context.Context, addr string) (*sparsev1.LeaderReply, error) {
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	return sparsev1.NewNimbusClient(cc).Leader(ctx, &sparsev1.LeaderRequest{})
}
