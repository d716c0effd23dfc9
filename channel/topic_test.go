package channel

import (
	"fmt"
	"testing"
)

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"orders.created", "orders.created", true},
		{"orders.created", "orders.deleted", false},
		{"orders.*", "orders.created", true},
		{"orders.*", "orders.eu.created", false},
		{"orders.*", "orders", false},
		{"orders.>", "orders.created", true},
		{"orders.>", "orders.eu.created", true},
		{"orders.>", "orders", false},
		{"*.created", "orders.created", true},
		{"*.created", "orders.eu.created", false},
		{"*.*.created", "orders.eu.created", true},
		{">", "anything.at.all", true},
		{">", "one", true},
		{"*", "one", true},
		{"*", "one.two", false},
		{"orders.*.>", "orders.eu.created", true},
		{"orders.*.>", "orders.eu", false},
		{"orders", "orders.created", false},
		{"orders.created.x", "orders.created", false},
	}
	for _, c := range cases {
		if err := ValidatePattern(c.pattern); err != nil {
			t.Fatalf("pattern %q: %v", c.pattern, err)
		}
		if err := ValidateTopic(c.topic); err != nil {
			t.Fatalf("topic %q: %v", c.topic, err)
		}
		if got := MatchTopic(c.pattern, c.topic); got != c.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	for _, bad := range []string{"", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a*", "a.b>", string(make([]byte, 256))} {
		if ValidateTopic(bad) == nil {
			t.Errorf("topic %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "a.", "a..b", "a.>.b", ">.a", "a*", "a.b>", "a.**"} {
		if ValidatePattern(bad) == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	for _, good := range []string{"a", "a.b", "a.*", "a.>", "*", ">", "*.b.>", "orders-v2.eu_west"} {
		if err := ValidatePattern(good); err != nil {
			t.Errorf("pattern %q: %v", good, err)
		}
	}
}

func FuzzMatchTopic(f *testing.F) {
	f.Add("orders.*", "orders.created")
	f.Add("orders.>", "orders.eu.created")
	f.Add("*.x.>", "a.x.b.c")
	f.Add("a.*.>", "..")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		// Received topics are network input: any strings must be safe.
		MatchTopic(pattern, topic)
		if ValidatePattern(pattern) != nil || ValidateTopic(topic) != nil {
			return
		}
		got := MatchTopic(pattern, topic)
		// A literal pattern matches only itself.
		if !IsPattern(pattern) && got != (pattern == topic) {
			t.Fatalf("MatchTopic(%q, %q) = %v", pattern, topic, got)
		}
		// ">" matches every topic; the topic as a pattern matches itself.
		if !MatchTopic(">", topic) || !MatchTopic(topic, topic) {
			t.Fatalf("identity or > failed for %q", topic)
		}
	})
}

func ExampleMatchTopic() {
	fmt.Println(MatchTopic("orders.*", "orders.created"))
	fmt.Println(MatchTopic("orders.*", "orders.eu.created"))
	fmt.Println(MatchTopic("orders.>", "orders.eu.created"))
	// Output:
	// true
	// false
	// true
}
