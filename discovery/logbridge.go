package discovery

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newStdLogger maps memberlist's "[LEVEL] memberlist: ..." lines onto slog
// levels (memberlist takes only a *log.Logger).
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(slogWriter{l}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for prefix, lv := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if rest, ok := bytes.CutPrefix(line, []byte(prefix)); ok {
			line, level = bytes.TrimSpace(rest), lv
			break
		}
	}
	w.l.Log(context.Background(), level, string(line), "component", "memberlist")
	return len(p), nil
}
