package local

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/switchyard-ci/switchyard/wire"
)

// Capacity is the host's CPUs and memory (from /proc/meminfo; unknown
// elsewhere).
func (rt *Runtime) Capacity() wire.Capacity {
	c := wire.Capacity{CPU: float64(runtime.NumCPU())}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
				c.Memory = kb << 10
			}
		}
	}
	return c
}
