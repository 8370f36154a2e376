//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
)

// madvPageout is MADV_PAGEOUT (Linux 5.4): reclaim the range's pages now.
// Clean file pages are dropped from the mapping and read again on the next
// touch; pages a process changed are kept (swapped, or left in place), so
// the contents never change.
const madvPageout = 21

// releaseStartupMemory gives back what start-up left resident and the idle
// loop does not use (docs/decisions/0029): the Go heap's free pages, and
// the pages of the executable's read-only mappings (code, read-only data,
// the PC tables) touched once by the package initialisers and by opening
// the stack. Those are file pages the kernel maps 64 KiB at a time, and
// they were most of the heal service's idle RSS. What the loop runs comes
// back on its first touch, one page at a time: the mappings are marked
// for random access (MADV_RANDOM), so neither read-ahead nor fault-around
// brings the neighbours back with it. It returns the bytes advised; errors (an older
// kernel) only mean nothing was released.
func releaseStartupMemory() (int64, error) {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var advised int64
	var firstErr error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMappingOf(sc.Text(), exe)
		if !ok {
			continue
		}
		// Random access first: a page touched again is read alone, not
		// with its neighbours (no read-ahead, so fault-around finds nothing
		// else in the page cache to map).
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_RANDOM); e != 0 && firstErr == nil {
			firstErr = fmt.Errorf("madvise(MADV_RANDOM) %x-%x: %w", start, end, e)
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPageout); e != 0 {
			if firstErr == nil {
				firstErr = fmt.Errorf("madvise(MADV_PAGEOUT) %x-%x: %w", start, end, e)
			}
			continue
		}
		advised += int64(end - start)
	}
	if err := sc.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return advised, firstErr
}

// residentBytes is the process's resident set (VmRSS), 0 if unknown.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmRSS(string(b))
}
