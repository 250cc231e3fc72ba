package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileErrors: a malformed configuration file is refused with an
// error that says where and what was wanted, in the file's terms (no Go
// type names); a byte order mark is accepted.
func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		want         []string // substrings of the error; none: accepted
	}{
		{"empty", "", []string{"empty file", "want a JSON object"}},
		{"blank", " \n\t\n", []string{"empty file"}},
		{"byte order mark", "\xef\xbb\xbf" + `{"retention": {"purchase": "3y"}}`, nil},
		{"null", "null", nil},
		{"truncated", "{\n  \"retention\": {\n    \"view\": \"13mo\"\n", []string{"line 4", "ends inside"}},
		{"syntax", "{\n  \"retention\": {\"view\": \"13mo\"},\n}", []string{"line 3, column 1", "malformed JSON"}},
		{"two objects", `{} {"retention": {"purchase": "1y"}}`, []string{"line 1, column 4", "text after the JSON object"}},
		{"trailing junk", "{}\nx", []string{"line 2, column 1", "text after"}},
		{"array", `[]`, []string{"line 1", "want an object, not array"}},
		{"bool as string", "{\n\"consent_defaults\": {\"personalization\": \"yes\"}}", []string{"line 2", "consent_defaults.personalization", "want true or false, not string"}},
		{"float as int", `{"training": {"factors": 1.5}}`, []string{"training.factors", "want an integer, not number 1.5"}},
		{"unknown field", `{"foo": 1}`, []string{`unknown field "foo"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(p, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSettings(p)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("loadSettings(%q) = %v, want no error", tt.config, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loadSettings(%q) = nil, want an error", tt.config)
			}
			msg := err.Error()
			for _, w := range append(tt.want, "config "+p+": ") {
				if !strings.Contains(msg, w) {
					t.Errorf("loadSettings(%q) = %q, want it to contain %q", tt.config, msg, w)
				}
			}
			_, detail, _ := strings.Cut(msg, p+": ")
			for _, bad := range []string{"main.", "Go struct", "Go value", "json: ", "EOF"} {
				if strings.Contains(detail, bad) {
					t.Errorf("loadSettings(%q) = %q: mentions %q", tt.config, msg, bad)
				}
			}
		})
	}
}
