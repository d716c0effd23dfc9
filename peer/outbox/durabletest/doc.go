// Package durabletest holds the end-to-end durability tests of the SQL stores
// (no code for users). A sending or relaying process is killed with SIGKILL
// mid-stream and restarted, and an idempotent consumer must handle every
// message exactly once, each key in order. The test binary runs the killed
// process itself, re-executed in a child role.
package durabletest
