package chaos

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildPeer builds the peer program into a temporary directory and returns
// its path. It is built without -race: the suite's point is many processes
// killed and restarted on a small machine, where the race detector's
// slowdown would stretch the run (the library's race tests are elsewhere).
func buildPeer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chaospeer")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/meshmq/meshmq/chaos/internal/chaospeer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the peer program: %v\n%s", err, out)
	}
	return bin
}
