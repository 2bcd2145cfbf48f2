package worker

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	sparsev1 "github.com/sparsestream/sparse/api/proto/sparse/v1"
)

// TestEffectiveLogLevels: live overrides give levels and samples, a component's beats
// every component's, lapsed ones count for nothing, and the next expiry is the earliest.
func TestEffectiveLogLevels(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	at := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	list := []*sparsev1.LogLevelOverride{
		{Level: "warn", ExpiresUnixMs: at(time.Hour)},
		{Component: "split", Level: "debug", ExpiresUnixMs: at(10 * time.Minute)},
		{Component: "count", DebugSample: 0.5, ExpiresUnixMs: at(5 * time.Minute)},
		{Component: "gone", Level: "trace", ExpiresUnixMs: at(-time.Second)},
	}
	levels, samples, next := EffectiveLogLevels(list, now)
	levels = forComponents(levels, []string{"split", "count", "sink"})
	want := map[string]hclog.Level{"split": hclog.Debug, "count": hclog.Warn, "sink": hclog.Warn}
	if len(levels) != len(want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
	for c, l := range want {
		if levels[c] != l {
			t.Errorf("%s: level %v, want %v", c, levels[c], l)
		}
	}
	if len(samples) != 1 || samples["count"] != 0.5 {
		t.Errorf("samples %v, want count at 0.5", samples)
	}
	if !next.Equal(now.Add(5 * time.Minute)) {
		t.Errorf("next expiry %v, want in 5m", next.Sub(now))
	}
	levels, samples, next = EffectiveLogLevels(list, now.Add(2*time.Hour))
	if len(levels)+len(samples) != 0 || !next.IsZero() {
		t.Errorf("after every expiry: %v %v %v", levels, samples, next)
	}
}
