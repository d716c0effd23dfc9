// Package cli is the command-line plumbing the runnable examples share: a
// console that writes whole, timestamped lines from many goroutines, the
// logger behind their -v flag, checks for their address flags, the flags
// that secure their peers with the key files of examples/keygen
// (SecurityFlags), and their flag sets, usage errors and exit statuses
// (NewFlagSet, UsageError, Exit).
//
// It is not part of meshmq's API: it serves examples/chat, examples/cluster,
// examples/keygen, examples/meshctl and examples/orders only, and changes
// with them.
package cli
