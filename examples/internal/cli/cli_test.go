package cli

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestConsole(t *testing.T) {
	var b strings.Builder
	con := NewConsole(&b)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				con.Printf("line %d.%d", i, j)
			}
		})
	}
	wg.Wait()
	con.Write([]byte("raw\n"))
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 8*50+1 || lines[len(lines)-1] != "raw" {
		t.Fatalf("%d lines, last %q; want %d, last \"raw\"", len(lines), lines[len(lines)-1], 8*50+1)
	}
	stamped := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d line \d\.\d+$`)
	for _, l := range lines[:len(lines)-1] {
		if !stamped.MatchString(l) {
			t.Fatalf("line %q: want a time stamp, then the text", l)
		}
	}
}

func TestLogger(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b strings.Builder
		Logger(NewConsole(&b), verbose).Debug("hello", "n", 1)
		got := b.String()
		if verbose != strings.Contains(got, "level=DEBUG msg=hello n=1\n") || !verbose && got != "" {
			t.Errorf("verbose %v: logged %q", verbose, got)
		}
	}
}

func TestSplitList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a , b,,a ", []string{"a", "b", "a"}},
	} {
		if got := SplitList(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SplitList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCheckHostPort(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"127.0.0.1:7946", true},
		{"localhost:0", true},
		{"[::1]:65535", true},
		{":7946", true},
		{"127.0.0.1", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:-1", false},
		{"tcp://127.0.0.1:7001", false},
	} {
		if err := CheckHostPort(c.in); (err == nil) != c.ok {
			t.Errorf("CheckHostPort(%q) = %v, want ok %v", c.in, err, c.ok)
		}
	}
}

func ExampleSplitList() {
	fmt.Printf("%q\n", SplitList(" a, b,,c "))
	// Output: ["a" "b" "c"]
}
