package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const testHead = "Usage: test [-n N] NAME\n\nFlags:\n"

func newTestFlags() (*Flags, *int) {
	f := NewFlagSet("test", testHead)
	n := f.Int("n", 1, "how many `N`")
	return f, n
}

// testDefaults is what PrintDefaults prints for newTestFlags.
const testDefaults = "  -n N\n    \thow many N (default 1)\n"

func TestFlags(t *testing.T) {
	f, n := newTestFlags()
	if err := f.Parse([]string{"-n", "3", "a", "b"}); err != nil {
		t.Fatal(err)
	}
	if *n != 3 || f.NArg() != 2 || f.Arg(0) != "a" {
		t.Fatalf("parsed -n %d, args %q", *n, f.Args())
	}

	// A mistake the flag package finds: its complaint, then the usage.
	f, _ = newTestFlags()
	err := f.Parse([]string{"-nope"})
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("-nope: %v, want a *UsageError", err)
	}
	if want := "flag provided but not defined: -nope\n" + testHead + testDefaults; ue.Usage != want {
		t.Errorf("-nope: usage %q, want %q", ue.Usage, want)
	}
	if err.Error() != "flag provided but not defined: -nope" {
		t.Errorf("-nope: error %q", err)
	}

	// -h: the usage alone, and flag.ErrHelp.
	f, _ = newTestFlags()
	err = f.Parse([]string{"-h"})
	if !errors.As(err, &ue) || !errors.Is(err, flag.ErrHelp) || ue.Usage != testHead+testDefaults {
		t.Errorf("-h: %v, usage %q", err, ue.Usage)
	}

	// A mistake the command finds: its line, then the usage; the error
	// wraps what the format does.
	f, _ = newTestFlags()
	if err := f.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("too short")
	err = f.Fail("name %q: %w", "x", cause)
	if !errors.As(err, &ue) || !errors.Is(err, cause) || err.Error() != `name "x": too short` {
		t.Fatalf("Fail: %v", err)
	}
	if want := "name \"x\": too short\n" + testHead + testDefaults; ue.Usage != want {
		t.Errorf("Fail: usage %q, want %q", ue.Usage, want)
	}
	// The text starts afresh each time.
	err = f.Fail("second")
	if !errors.As(err, &ue) || ue.Usage != "second\n"+testHead+testDefaults {
		t.Errorf("Fail again: usage %q", ue.Usage)
	}
}

func TestExitCode(t *testing.T) {
	usage := &UsageError{errors.New("bad -n"), "bad -n\nUsage: test\n"}
	help := &UsageError{flag.ErrHelp, "Usage: test\n"}
	for _, c := range []struct {
		name           string
		err            error
		code           int
		stdout, stderr string
	}{
		{"nil", nil, 0, "", ""},
		{"-h", help, 0, "Usage: test\n", ""},
		{"wrapped -h", fmt.Errorf("parsing: %w", help), 0, "Usage: test\n", ""},
		{"usage", usage, 2, "", "bad -n\nUsage: test\n"},
		{"wrapped usage", fmt.Errorf("parsing: %w", usage), 2, "", "bad -n\nUsage: test\n"},
		{"other", errors.New("disk full"), 1, "", "test: disk full\n"},
		{"ErrHelp alone", flag.ErrHelp, 1, "", "test: flag: help requested\n"},
	} {
		var stdout, stderr strings.Builder
		code := ExitCode("test", c.err, &stdout, &stderr)
		if code != c.code || stdout.String() != c.stdout || stderr.String() != c.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				c.name, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
}

// envExitTest makes the test binary run Exit with the error it names.
const envExitTest = "MESHMQ_CLI_EXIT_TEST"

func TestExit(t *testing.T) {
	switch os.Getenv(envExitTest) {
	case "":
	case "usage":
		Exit("test", &UsageError{errors.New("bad"), "bad\nUsage: test\n"})
		return
	case "other":
		Exit("test", errors.New("disk full"))
		return
	case "nil":
		Exit("test", nil)
		fmt.Println("returned")
		os.Exit(0) // before the test's own output; run without -test.paniconexit0
	}
	Exit("test", nil) // returns
	for _, c := range []struct {
		env            string
		code           int
		stdout, stderr string
	}{
		{"usage", 2, "", "bad\nUsage: test\n"},
		{"other", 1, "", "test: disk full\n"},
		{"nil", 0, "returned\n", ""},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExit$")
		cmd.Env = append(os.Environ(), envExitTest+"="+c.env)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || stdout.String() != c.stdout || stderr.String() != c.stderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q",
				c.env, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
}

func ExampleNewFlagSet() {
	fs := NewFlagSet("greet", "Usage: greet [-name NAME]\n\nFlags:\n")
	name := fs.String("name", "world", "who to greet")
	err := fs.Parse([]string{"extra"})
	if err == nil && fs.NArg() > 0 {
		err = fs.Fail("unexpected argument %q", fs.Arg(0))
	}
	fmt.Println(*name)
	fmt.Print(ExitCode("greet", err, os.Stdout, os.Stdout))
	// Output:
	// world
	// unexpected argument "extra"
	// Usage: greet [-name NAME]
	//
	// Flags:
	//   -name string
	//     	who to greet (default "world")
	// 2
}
