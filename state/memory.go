package state

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// MemoryAvailable returns the memory the process may use, in bytes: the
// cgroup's limit (v2 memory.max, or v1 limit_in_bytes) when one is set and
// below the machine's memory, else the machine's (MemTotal); 4 GiB if
// neither can be read.
func MemoryAvailable() int64 {
	total := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) {
			return n
		}
	}
	if total > 0 {
		return total
	}
	return 4 << 30
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fs := strings.Fields(rest)
			if len(fs) >= 1 {
				if kb, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
