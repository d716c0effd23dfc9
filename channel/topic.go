package channel

import (
	"fmt"
	"strings"
)

// Topics and patterns. A topic is a name of dot-separated tokens, such as
// "orders.eu.created". A subscription pattern is a topic in which a token may
// be "*", matching exactly one token, and the last token may be ">", matching
// one or more tokens: "orders.*" matches "orders.created" but not
// "orders.eu.created"; "orders.>" matches both, but not "orders" itself.
// These are the rules NATS users know.

// MaxTopicLen bounds a topic or pattern, in bytes.
const MaxTopicLen = 255

// ValidateTopic reports whether topic can be published to: non-empty tokens
// without wildcards or spaces.
func ValidateTopic(topic string) error { return validateTopic(topic, false) }

// ValidatePattern reports whether pattern can be subscribed to.
func ValidatePattern(pattern string) error { return validateTopic(pattern, true) }

func validateTopic(s string, pattern bool) error {
	what := "topic"
	if pattern {
		what = "pattern"
	}
	if s == "" || len(s) > MaxTopicLen {
		return &ValidationError{Field: "Channel", Reason: fmt.Sprintf("%s must be 1 to %d bytes", what, MaxTopicLen)}
	}
	// One pass, no allocation: Publish validates every topic.
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			switch s[i] {
			case ' ', '\t', '\r', '\n':
				return &ValidationError{Field: "Channel", Reason: fmt.Sprintf("%s %q contains white space", what, s)}
			}
			continue
		}
		tok, last := s[start:i], i == len(s)
		start = i + 1
		switch {
		case tok == "":
			return &ValidationError{Field: "Channel", Reason: fmt.Sprintf("%s %q has an empty token", what, s)}
		case tok == "*" || (tok == ">" && last):
			if !pattern {
				return &ValidationError{Field: "Channel", Reason: fmt.Sprintf("topic %q contains a wildcard", s)}
			}
		case strings.ContainsAny(tok, "*>"):
			return &ValidationError{Field: "Channel", Reason: fmt.Sprintf("%s %q: a wildcard must be a whole token, and > the last", what, s)}
		}
	}
	return nil
}

// MatchTopic reports whether topic matches pattern. Any strings are safe;
// the answer is meaningful for a valid pattern and topic.
func MatchTopic(pattern, topic string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		if ptok == ">" {
			return topic != ""
		}
		if topic == "" {
			return false
		}
		ttok, trest, tmore := strings.Cut(topic, ".")
		if ptok != "*" && ptok != ttok {
			return false
		}
		if !pmore || !tmore {
			return !pmore && !tmore
		}
		pattern, topic = prest, trest
	}
}

// IsPattern reports whether s contains a wildcard token.
func IsPattern(s string) bool {
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "*" || tok == ">" {
			return true
		}
	}
	return false
}
