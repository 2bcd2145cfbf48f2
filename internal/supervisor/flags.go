package supervisor

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSlots reads the slot ports from --slots (a comma-separated list) or from
// --slot-count and --slot-base (count consecutive ports from base). Exactly one of the
// two forms must be given.
func ParseSlots(list string, count, base int) ([]int, error) {
	list = strings.TrimSpace(list)
	switch {
	case list != "" && count > 0:
		return nil, fmt.Errorf("give either --slots or --slot-count, not both")
	case list != "":
		var out []int
		for _, f := range strings.Split(list, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			p, err := strconv.Atoi(f)
			if err != nil || p <= 0 || p > 65535 {
				return nil, fmt.Errorf("--slots: %q is not a port; write for example --slots 6700,6701,6702", f)
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("--slots lists no port; write for example --slots 6700,6701,6702")
		}
		return out, nil
	case count > 0:
		if base <= 0 || base+count-1 > 65535 {
			return nil, fmt.Errorf("--slot-base %d with --slot-count %d does not give valid ports", base, count)
		}
		out := make([]int, count)
		for i := range out {
			out[i] = base + i
		}
		return out, nil
	case count < 0:
		return nil, fmt.Errorf("--slot-count %d: it must be positive", count)
	}
	return nil, fmt.Errorf("no slots; pass --slots 6700,6701 or --slot-count 4 --slot-base 6700")
}
