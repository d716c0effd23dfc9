package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// cpuTicks sums the user and system time of the workers, in clock ticks.
func cpuTicks(procs []*proc) (uint64, error) {
	var sum uint64
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			return 0, err
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state is the first, utime the 12th, stime the 13th.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", p.cmd.Process.Pid, len(f))
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, err
			}
			sum += n
		}
	}
	return sum, nil
}

// rssBytes sums the workers' resident memory.
func rssBytes(procs []*proc) (uint64, error) {
	var sum uint64
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			return 0, err
		}
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(rest) // "1234 kB"
				if len(f) == 2 {
					kb, err := strconv.ParseUint(f[0], 10, 64)
					if err != nil {
						return 0, err
					}
					sum += kb << 10
				}
			}
		}
	}
	return sum, nil
}
