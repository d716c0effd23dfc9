package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// UsageError is a mistake on the command line, or -h (its Err is then
// flag.ErrHelp): the command prints Usage, which already holds the reason,
// and exits 2 (0 for -h). See ExitCode.
type UsageError struct {
	Err   error
	Usage string // the reason (none for -h), then the usage text
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Flags is a command's flag set. Instead of printing its complaints and
// usage, it returns them in a *UsageError, from Parse and Fail: the
// command's main decides where they go (ExitCode), and its tests read them.
type Flags struct {
	*flag.FlagSet
	text strings.Builder // what the flag set prints
}

// NewFlagSet returns the flag set of the command name, whose usage text is
// usageHead followed by the flags and their defaults (flag.PrintDefaults).
func NewFlagSet(name, usageHead string) *Flags {
	f := &Flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(&f.text)
	f.Usage = func() {
		fmt.Fprint(f.Output(), usageHead)
		f.PrintDefaults()
	}
	return f
}

// Parse parses args (flag.FlagSet.Parse). A mistake, or -h, is a
// *UsageError holding the flag package's error and what it printed: the
// complaint and the usage, or for -h the usage alone.
func (f *Flags) Parse(args []string) error {
	f.text.Reset()
	if err := f.FlagSet.Parse(args); err != nil {
		return &UsageError{err, f.text.String()}
	}
	return nil
}

// Fail returns a mistake found after Parse, such as a bad flag value: a
// *UsageError of fmt.Errorf(format, a...) whose Usage is that error's line
// followed by the usage text.
func (f *Flags) Fail(format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	f.text.Reset()
	fmt.Fprintf(&f.text, "%v\n", err)
	f.Usage()
	return &UsageError{err, f.text.String()}
}

// ExitCode prints what the error err of the command name calls for and
// returns the command's exit status:
//
//	nil                          nothing; 0
//	a *UsageError for -h         its Usage to stdout; 0
//	another *UsageError          its Usage, the reason first, to stderr; 2
//	any other error              "name: err" to stderr; 1
func ExitCode(name string, err error, stdout, stderr io.Writer) int {
	var ue *UsageError
	switch {
	case errors.As(err, &ue) && errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, ue.Usage)
	case ue != nil:
		fmt.Fprint(stderr, ue.Usage)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

// Exit ends the main function of the command name with its error err:
// ExitCode on os.Stdout and os.Stderr, then os.Exit with a status other
// than 0 (with 0 it returns).
func Exit(name string, err error) {
	if code := ExitCode(name, err, os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
}
