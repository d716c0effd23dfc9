package cli

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Console serializes the lines printed by handlers, a peer's goroutines and
// an example's own loops onto one writer, each stamped with the time so
// that a failover or a crash can be followed across terminals.
type Console struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsole returns a Console that writes to w.
func NewConsole(w io.Writer) *Console {
	return &Console{w: w}
}

// Printf writes one line: the time (15:04:05.000), then format and args as
// fmt.Sprintf makes them, then a newline.
func (c *Console) Printf(format string, args ...any) {
	line := time.Now().Format("15:04:05.000 ") + fmt.Sprintf(format, args...) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, line)
}

// Write writes b as it is, unstamped, between whole lines of Printf: it
// lets slog write whole records through the console.
func (c *Console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(b)
}

// Logger returns the logger for -v: everything, at debug level and up, as
// text to w (a Console, so that log lines and the example's own do not
// interleave mid-line). Without -v nothing is logged: a graceful close
// makes the transport and memberlist log harmless "use of closed network
// connection" warnings and errors.
func Logger(w io.Writer, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
