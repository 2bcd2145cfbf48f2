package transport

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	totals := Totals{
		TuplesSent: 10, ControlsSent: 4, BytesSent: 1000, FramesSent: 2,
		TuplesRecv: 7, ControlsRecv: 3, BytesRecv: 700, FramesRecv: 1,
		Dropped: 1, Refused: 2, Reconnects: 5,
	}
	calls := 0
	c := NewCollector("wc-1", "sup-a:6700", func() Totals { calls++; return totals })
	want := `
# HELP sparse_transport_sent_tuples_total Tuples sent to other workers.
# TYPE sparse_transport_sent_tuples_total counter
sparse_transport_sent_tuples_total{topology="wc-1",worker="sup-a:6700"} 10
# HELP sparse_transport_sent_control_messages_total Acker messages sent to other workers.
# TYPE sparse_transport_sent_control_messages_total counter
sparse_transport_sent_control_messages_total{topology="wc-1",worker="sup-a:6700"} 4
# HELP sparse_transport_sent_bytes_total Encoded bytes sent to other workers.
# TYPE sparse_transport_sent_bytes_total counter
sparse_transport_sent_bytes_total{topology="wc-1",worker="sup-a:6700"} 1000
# HELP sparse_transport_sent_frames_total Frames (encoded batches) sent to other workers.
# TYPE sparse_transport_sent_frames_total counter
sparse_transport_sent_frames_total{topology="wc-1",worker="sup-a:6700"} 2
# HELP sparse_transport_received_tuples_total Tuples received from other workers.
# TYPE sparse_transport_received_tuples_total counter
sparse_transport_received_tuples_total{topology="wc-1",worker="sup-a:6700"} 7
# HELP sparse_transport_received_control_messages_total Acker messages received from other workers.
# TYPE sparse_transport_received_control_messages_total counter
sparse_transport_received_control_messages_total{topology="wc-1",worker="sup-a:6700"} 3
# HELP sparse_transport_received_bytes_total Encoded bytes received from other workers.
# TYPE sparse_transport_received_bytes_total counter
sparse_transport_received_bytes_total{topology="wc-1",worker="sup-a:6700"} 700
# HELP sparse_transport_received_frames_total Frames (encoded batches) received from other workers.
# TYPE sparse_transport_received_frames_total counter
sparse_transport_received_frames_total{topology="wc-1",worker="sup-a:6700"} 1
# HELP sparse_transport_dropped_messages_total Tuples and acker messages lost with a broken stream; their spout tuples time out and are replayed.
# TYPE sparse_transport_dropped_messages_total counter
sparse_transport_dropped_messages_total{topology="wc-1",worker="sup-a:6700"} 1
# HELP sparse_transport_refusals_total Handshakes and batches refused, by this worker or by its peers.
# TYPE sparse_transport_refusals_total counter
sparse_transport_refusals_total{topology="wc-1",worker="sup-a:6700"} 2
# HELP sparse_transport_reconnects_total Reconnections to peer workers.
# TYPE sparse_transport_reconnects_total counter
sparse_transport_reconnects_total{topology="wc-1",worker="sup-a:6700"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if calls != 1 {
		t.Errorf("one scrape read the totals %d times, want once", calls)
	}
	// The totals are read at scrape time.
	totals.TuplesSent = 11
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP sparse_transport_sent_tuples_total Tuples sent to other workers.
# TYPE sparse_transport_sent_tuples_total counter
sparse_transport_sent_tuples_total{topology="wc-1",worker="sup-a:6700"} 11
`), "sparse_transport_sent_tuples_total"); err != nil {
		t.Error(err)
	}
}
