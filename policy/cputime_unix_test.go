//go:build unix

package policy

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system. On a
// loaded machine it is a steadier measure of a decision's cost than the
// wall clock, which also counts the time other processes held the CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
