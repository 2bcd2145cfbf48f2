package perf

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"strconv"
)

// CPUSample is the machine's CPU time so far, from /proc/stat, in clock ticks.
type CPUSample struct {
	Steal, Idle, Total uint64 // Idle counts iowait too
	OK                 bool   // false where /proc/stat is missing or unreadable (not Linux)
}

// ReadCPU samples /proc/stat.
func ReadCPU() CPUSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUSample{}
	}
	return parseCPU(b)
}

// parseCPU reads the aggregate "cpu" line: user nice system idle iowait irq softirq
// steal [guest guest_nice], of which guest time is already part of user time.
func parseCPU(b []byte) CPUSample {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return CPUSample{}
	}
	var s CPUSample
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil || s.Total+n < s.Total {
			return CPUSample{}
		}
		s.Total += n
		switch i {
		case 3, 4:
			s.Idle += n
		case 7:
			s.Steal = n
		}
	}
	s.OK = true
	return s
}

// StealShare is the share of the machine's CPU time that the hypervisor gave to other
// guests between two samples: on a shared host it slows everything measured meanwhile,
// the engine and the baselines alike but not always equally, and it shows as latency
// spikes. NaN when unknown.
func StealShare(a, b CPUSample) float64 {
	if !a.OK || !b.OK || b.Total <= a.Total || b.Steal < a.Steal {
		return math.NaN()
	}
	return float64(b.Steal-a.Steal) / float64(b.Total-a.Total)
}

// BusyCores is how many of the machine's cores were busy on average between two samples:
// neither idle nor taken by other guests. On the otherwise quiet bench machine, what the
// measured processes used. NaN when unknown.
func BusyCores(a, b CPUSample) float64 {
	if !a.OK || !b.OK || b.Total <= a.Total || b.Steal < a.Steal || b.Idle < a.Idle {
		return math.NaN()
	}
	total := b.Total - a.Total
	busy := total - min(total, (b.Idle-a.Idle)+(b.Steal-a.Steal))
	return float64(busy) / float64(total) * float64(runtime.NumCPU())
}
