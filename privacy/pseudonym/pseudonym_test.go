package pseudonym

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/discret-io/discret/privacy"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

func mustID(t testing.TB, s string) privacy.CustomerID {
	t.Helper()
	c, err := privacy.ParseCustomerID(s)
	if err != nil {
		t.Fatalf("ParseCustomerID(%q): %v", s, err)
	}
	return c
}

func TestPseudonymizeReference(t *testing.T) {
	// Reference values computed independently with Python:
	//   hmac.new(b"\x42"*32, s.encode(), hashlib.sha256).hexdigest()[:32]
	tests := []struct{ in, want string }{
		{"alice@example.com", "a77887109f0c9668a541cb734c57dbf8"},
		{"4970 1234 5678 9012", "269aef32e310c985701a41ef7276de36"},
		{"é", "dcd1e351baaa5f23346d43af2ac94e63"},
	}
	p, _ := New(testKey)
	for _, tt := range tests {
		if got := p.Pseudonymize(mustID(t, tt.in)).String(); got != tt.want {
			t.Errorf("Pseudonymize(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestShortKey(t *testing.T) {
	if _, err := New(make([]byte, 31)); err != ErrShortKey {
		t.Fatalf("New(31 bytes) = %v, want ErrShortKey", err)
	}
}

func TestKeysDiffer(t *testing.T) {
	a, _ := New(testKey)
	b, _ := New(bytes.Repeat([]byte{0x43}, 32))
	id := mustID(t, "4970 1234 5678 9012")
	if a.Pseudonymize(id) == b.Pseudonymize(id) {
		t.Fatal("two keys give the same pseudonym")
	}
}

func TestConcurrent(t *testing.T) {
	p, _ := New(testKey)
	want := p.Pseudonymize(mustID(t, "bob"))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if got := p.Pseudonymize(mustID(t, "bob")); got != want {
					t.Errorf("concurrent Pseudonymize = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzPseudonymize(f *testing.F) {
	f.Add("alice@example.com")
	f.Add("loyalty-0000001")
	f.Add("é")
	p, _ := New(testKey)
	q, _ := New(bytes.Repeat([]byte{1}, 32))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := privacy.ParseCustomerID(s)
		if err != nil {
			return
		}
		a, b := p.Pseudonymize(c), p.Pseudonymize(c)
		if a != b {
			t.Fatalf("not deterministic")
		}
		if a == q.Pseudonymize(c) {
			t.Fatalf("two keys collide")
		}
		if len(s) >= 4 && strings.Contains(a.String(), hex.EncodeToString([]byte(s))) {
			t.Fatalf("pseudonym contains the input")
		}
		if fmt.Sprint(c) != "[redacted customer id]" {
			t.Fatalf("customer id prints as %q", fmt.Sprint(c))
		}
	})
}

func ExampleKeyed_Pseudonymize() {
	key := bytes.Repeat([]byte{0x42}, 32) // in production: secret.Master.PseudonymKey()
	p, _ := New(key)
	c, _ := privacy.ParseCustomerID("alice@example.com")
	fmt.Println(c)
	fmt.Println(len(p.Pseudonymize(c).String()))
	// Output:
	// [redacted customer id]
	// 32
}

func BenchmarkPseudonymize(b *testing.B) {
	p, _ := New(testKey)
	c := mustID(b, "alice@example.com")
	b.ReportAllocs()
	for b.Loop() {
		p.Pseudonymize(c)
	}
}
