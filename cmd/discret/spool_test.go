package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSpool: the copy of standard input on disk does not hold the input in
// clear, reads back whole as often as needed (gzip decompressed), and is
// removed.
func TestSpool(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	id := "jeanne.dupont@example.fr"
	in := strings.Repeat(`{"customer":"`+id+`","item":"sku-1","type":"view","time":"2026-01-02T15:04:05Z"}`+"\n", 500)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(in))
	zw.Close()
	for _, tt := range []struct{ name, input string }{{"plain", in}, {"gzip", gz.String()}} {
		s, err := newSpool(strings.NewReader(tt.input))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(s.name) != os.Getenv("TMPDIR") {
			t.Errorf("%s: spool %s is not in $TMPDIR", tt.name, s.name)
		}
		raw, err := os.ReadFile(s.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != len(tt.input) || bytes.Contains(raw, []byte(id)) || bytes.Contains(raw, []byte(`"customer"`)) {
			t.Errorf("%s: the spool file (%d bytes for %d) holds the input in clear", tt.name, len(raw), len(tt.input))
		}
		for pass := range 2 {
			r, err := s.open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != in {
				t.Errorf("%s: pass %d read %d bytes, %v; want the %d bytes of the input", tt.name, pass, len(got), err, len(in))
			}
		}
		s.remove()
		if _, err := os.Stat(s.name); !os.IsNotExist(err) {
			t.Errorf("%s: spool file left after remove: %v", tt.name, err)
		}
	}
}
