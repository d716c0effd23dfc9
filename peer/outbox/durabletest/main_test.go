package durabletest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRole) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m)
}
