package cli

import (
	"errors"
	"net"
	"strconv"
	"strings"
)

// SplitList splits a comma-separated flag value, dropping blanks and the
// spaces around each part. It keeps duplicates, in order: whether they are
// a mistake is the flag's to say.
func SplitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// CheckHostPort reports whether s is host:port with a port number that
// fits in 16 bits (0 included: any free port). The host is not checked.
func CheckHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return errors.New("bad port")
	}
	return nil
}
