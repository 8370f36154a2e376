//go:build !linux

package main

import "runtime/debug"

// releaseStartupMemory returns the Go heap's free pages to the system; the
// executable's pages are left to the kernel (see memtrim_linux.go).
func releaseStartupMemory() (int64, error) {
	debug.FreeOSMemory()
	return 0, nil
}

// residentBytes is not read outside Linux.
func residentBytes() int64 { return 0 }
