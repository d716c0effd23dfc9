package asyncapi

import (
	"testing"

	"go.uber.org/goleak"
)

// Peers start goroutines; every one must have ended when the tests do.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
