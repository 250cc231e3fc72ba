package auth

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseCustomerToken: the parser accepts exactly the strings that
// customerToken.String returns (one encoding per token), never panics, and
// round-trips every token it is given the fields of.
func FuzzParseCustomerToken(f *testing.F) {
	valid := customerToken{keyID: "abcdefgh", expiry: 2051222400}
	copy(valid.bind[:], bytes.Repeat([]byte{0xa5}, bindSize))
	copy(valid.tag[:], bytes.Repeat([]byte{0x5a}, tagSize))
	s := valid.String()
	f.Add(s)
	f.Add(s[:len(s)-1] + "b") // bits past the body set
	f.Add(strings.ToUpper(s))
	f.Add("dct_abcdefgh_" + strings.Repeat("7", tokenBodyLen))
	f.Add("dsk_abcdefgh_" + strings.Repeat("a", 52))
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		tok, ok := parseCustomerToken(in)
		if !ok {
			return
		}
		if got := tok.String(); got != in {
			t.Fatalf("parseCustomerToken(%q) = %+v, which encodes as %q", in, tok, got)
		}
		if tok.expiry < 0 || !isBase32(tok.keyID) || len(tok.keyID) != idLen {
			t.Fatalf("parseCustomerToken(%q) = %+v: bad fields", in, tok)
		}
	})
}

func TestParseCustomerToken(t *testing.T) {
	tok := customerToken{keyID: "zz234567", expiry: 1<<63 - 1}
	for i := range tok.bind {
		tok.bind[i] = byte(i)
	}
	for i := range tok.tag {
		tok.tag[i] = byte(255 - i)
	}
	s := tok.String()
	if len(s) != customerTokenLen || !strings.HasPrefix(s, TokenPrefix+"zz234567_") {
		t.Fatalf("String() = %q (%d characters), want %d starting with the prefix and id", s, len(s), customerTokenLen)
	}
	if got, ok := parseCustomerToken(s); !ok || got != tok {
		t.Errorf("parseCustomerToken(String()) = %+v, %v; want %+v", got, ok, tok)
	}
	// The last character holds the body's last 3 bits and 2 bits beyond
	// it, which must be zero. The tag ends with 0xf0, so that character is
	// "a" (all zero), and "b" sets one of the 2 bits.
	if !strings.HasSuffix(s, "a") {
		t.Fatalf("String() = %q, want it to end with a", s)
	}
	for _, tt := range []struct {
		name string
		in   string
	}{
		{"non-zero trailing bits", s[:len(s)-1] + "b"},
		{"expiry out of int64", func() string { o := tok; o.expiry = -1; return o.String() }()},
		{"padding", s[:len(s)-1] + "="},
		{"id not base32", TokenPrefix + "zz23456!" + s[len(TokenPrefix)+idLen:]},
		{"bad separator", s[:len(TokenPrefix)+idLen] + "-" + s[len(TokenPrefix)+idLen+1:]},
		{"API key prefix", "dsk_" + s[len(TokenPrefix):]},
	} {
		if got, ok := parseCustomerToken(tt.in); ok {
			t.Errorf("parseCustomerToken(%s: %q) = %+v, want it refused", tt.name, tt.in, got)
		}
	}
}
