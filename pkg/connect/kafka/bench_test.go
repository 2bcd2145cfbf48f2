package kafka

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPollerMessages: the poller's work per fetched record with the default
// output (boxing topic, partition and offset; copying key and value into strings).
func BenchmarkPollerMessages(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", keyed), func(b *testing.B) {
			recs := make([]*kgo.Record, 500)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "t", Partition: int32(i % 4), Offset: int64(i), Value: make([]byte, 100)}
				if keyed {
					recs[i].Key = []byte(fmt.Sprintf("user-%d", i))
				}
			}
			var pr preparer
			b.ReportAllocs()
			for b.Loop() {
				pr.messages(recs, SpoutConfig{})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}
