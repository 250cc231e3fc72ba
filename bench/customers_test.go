package bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy"
)

func TestReadCustomers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"a\nb\n", []string{"a", "b"}, ""},
		{"# demo\n\n  LOY-1  \r\nx@example.org\nx@example.org", []string{"LOY-1", "x@example.org", "x@example.org"}, ""},
		{"", nil, "no customer ids"},
		{"# only a comment\n", nil, "no customer ids"},
		{"ok\n" + strings.Repeat("x", 300) + "\n", nil, "line 2"},
	} {
		got, err := ReadCustomers(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ReadCustomers(%q) error = %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ReadCustomers(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestSynthCustomers checks that SynthCustomers finds exactly the
// customers of a synthetic dataset.
func TestSynthCustomers(t *testing.T) {
	cfg := synth.Config{Customers: 300, Items: 500, Events: 20_000, Seed: 7}
	var events, consent bytes.Buffer
	if _, err := synth.Generate(t.Context(), cfg, synth.Output{Events: &events, Consent: &consent}, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, buf := range []*bytes.Buffer{&events, &consent} {
		dec := json.NewDecoder(buf)
		for dec.More() {
			var row struct{ Customer string }
			if err := dec.Decode(&row); err != nil {
				t.Fatal(err)
			}
			want[row.Customer] = true
		}
	}
	got, err := SynthCustomers(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 300 {
		t.Fatalf("SynthCustomers(300 customers) = %d ids, the dataset has %d, want 300", len(got), len(want))
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("SynthCustomers returned %q, not a customer of the dataset", id)
		}
	}
	cfg.Seed = 8
	other, err := SynthCustomers(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other, got) {
		t.Errorf("SynthCustomers gives the same ids for seeds 7 and 8")
	}
}

// FuzzReadCustomers: whatever the input, ReadCustomers does not panic, and
// what it returns are valid, trimmed ids, one per non-comment line at most.
func FuzzReadCustomers(f *testing.F) {
	f.Add("a\nb\n")
	f.Add("# c\n  x@example.org \r\n\n")
	f.Add(strings.Repeat("z", 300))
	f.Add("\x00\n\xff\n")
	f.Fuzz(func(t *testing.T, in string) {
		ids, err := ReadCustomers(strings.NewReader(in))
		if err != nil {
			if ids != nil {
				t.Fatalf("ReadCustomers(%q) = %q with error %v, want no ids", in, ids, err)
			}
			return
		}
		if len(ids) == 0 || len(ids) > strings.Count(in, "\n")+1 {
			t.Fatalf("ReadCustomers(%q) = %d ids for %d lines", in, len(ids), strings.Count(in, "\n")+1)
		}
		for _, id := range ids {
			if err := privacy.ValidateID(id); err != nil || id != strings.TrimSpace(id) || strings.HasPrefix(id, "#") {
				t.Fatalf("ReadCustomers(%q) returned %q: %v", in, id, err)
			}
		}
	})
}
