package codec

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests. In particular
// it catches the underlying library's value preallocation, which starts a
// goroutine per decoded type that never exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
