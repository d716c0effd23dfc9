package partition

import (
	"fmt"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("consumer-%d", i)
	}
	return out
}

// Keys spread evenly over the partitions.
func TestOfSpreads(t *testing.T) {
	const n, keys = 64, 64_000
	counts := make([]int, n)
	for i := 0; i < keys; i++ {
		counts[Of(fmt.Sprintf("key-%d", i), n)]++
	}
	for p, c := range counts {
		if c < keys/n/2 || c > keys/n*3/2 {
			t.Fatalf("partition %d has %d of %d keys", p, c, keys)
		}
	}
	if Of("k", 1) != 0 {
		t.Fatal("one partition")
	}
}

// Owners are spread, and a join moves between 0.5/N and 1.5/N of the
// partitions (N owners after the join), all of them to the newcomer.
func TestJoinMovesAboutOneNth(t *testing.T) {
	const parts = 256
	for _, n := range []int{2, 3, 5, 10} {
		before := names(n - 1)
		after := names(n)
		moved := 0
		owned := make([]int, n)
		for p := 0; p < parts; p++ {
			o1 := before[Owner(p, before)]
			o2 := after[Owner(p, after)]
			owned[Owner(p, after)]++
			if o1 != o2 {
				moved++
				if o2 != after[n-1] {
					t.Fatalf("partition %d moved from %s to %s, not to the newcomer", p, o1, o2)
				}
			}
		}
		if float64(moved) < 0.5*parts/float64(n) || float64(moved) > 1.5*parts/float64(n) {
			t.Fatalf("%d owners: a join moved %d of %d partitions", n, moved, parts)
		}
		for i, c := range owned {
			if c == 0 {
				t.Fatalf("%d owners: %s owns nothing", n, after[i])
			}
		}
	}
}

// Owners do not depend on the candidates' order.
func TestOwnerIgnoresOrder(t *testing.T) {
	a := []string{"x", "y", "z"}
	b := []string{"z", "x", "y"}
	for p := 0; p < 100; p++ {
		if a[Owner(p, a)] != b[Owner(p, b)] {
			t.Fatalf("partition %d", p)
		}
	}
	if Owner(0, nil) != -1 {
		t.Fatal("no candidates")
	}
}

func BenchmarkOf(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Of("order-123456", 256)
	}
}
