package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileErrors: a bad configuration file is refused with an error
// that names the file, the line and column, and the field (its full path),
// and says what was wanted in the file's terms (no Go type names); a byte
// order mark is accepted.
func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		want         string // the error, with the file named c.json; "": accepted
	}{
		{"empty", "", `config c.json: empty file; want a JSON object such as {"retention": {"purchase": "3y"}} (README "Configuration")`},
		{"blank", " \n\t\n", `config c.json: empty file; want a JSON object such as {"retention": {"purchase": "3y"}} (README "Configuration")`},
		{"byte order mark", "\xef\xbb\xbf" + `{"retention": {"purchase": "3y"}}`, ""},
		{"null", "null", ""},
		{"case-insensitive keys, as encoding/json", `{"Training": {"Factors": 8}}`, ""},
		{"truncated", "{\n  \"retention\": {\n    \"view\": \"13mo\"\n", "config c.json:4:1: the file ends inside the JSON object (a missing } or ]?)"},
		{"syntax", "{\n  \"retention\": {\"view\": \"13mo\"},\n}", "config c.json:3:1: malformed JSON: invalid character '}' looking for beginning of object key string"},
		{"two objects", `{} {"retention": {"purchase": "1y"}}`, "config c.json:1:4: text after the JSON object; want one object"},
		{"trailing junk", "{}\nx", "config c.json:2:1: text after the JSON object; want one object"},
		{"array", `[]`, "config c.json:1:1: want an object, not array"},
		{"bool as string", "{\n\"consent_defaults\": {\"personalization\": \"yes\"}}", "config c.json:2:41: consent_defaults.personalization: want true or false, not string"},
		{"float as int", `{"training": {"factors": 1.5}}`, "config c.json:1:26: training.factors: want an integer, not number 1.5"},
		{"number beyond float64", `{"training": {"lambda": 1e400}}`, "config c.json:1:25: training.lambda = 1e400: out of range; want a number"},
		{"top-level number beyond float64", `-1e999`, "config c.json:1:1: want an object, not number"},
		{"number as period", "{\"retention\": {\n  \"view\": 13}}", "config c.json:2:11: retention.view: want a string, not number"},
		{"array as section", `{"training": [1]}`, "config c.json:1:14: training: want an object, not array"},
		{"unknown top-level field", "{\n  \"trainin\": {}}", "config c.json:2:3: trainin: unknown field; want retention, consent_defaults, training, privacy or audit"},
		{"unknown nested field", "{\n  \"privacy\": {\n    \"cap_epsilonx\": 5}}", "config c.json:3:5: privacy.cap_epsilonx: unknown field; want cap_epsilon, cap_delta, cap_window or non_private"},
		{"bad non-private policy", `{"privacy": {"non_private": "never"}}`, `config c.json:1:29: privacy.non_private = "never": want "allow" or "refuse"`},
		{"repeated key", "{\n \"privacy\": {\"cap_epsilon\": 1, \"cap_epsilon\": 20}}", "config c.json:2:32: privacy.cap_epsilon: repeated; give each field once"},
		{"repeated key in another case", `{"training": {}, "Training": {}}`, "config c.json:1:18: training: repeated; give each field once"},
		{"unknown event type", `{"retention": {"like": "1y"}}`, "config c.json:1:16: retention.like: unknown event type; want view, add_to_cart, purchase or store_visit"},
		{"unknown weight", `{"training": {"weights": {"like": 1}}}`, "config c.json:1:27: training.weights.like: unknown event type; want view, add_to_cart, purchase or store_visit"},
		{"bad period", "{\"retention\": {\n  \"view\": \"13months\"}}", `config c.json:2:11: retention.view = "13months": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
		{"period too long", `{"retention": {"purchase": "999999w"}}`, `config c.json:1:28: retention.purchase = "999999w": too long; want at most 999999 years, months or days in all`},
		{"zero period", `{"privacy": {"cap_window": "0d"}}`, `config c.json:1:28: privacy.cap_window = "0d": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
		{"audit retention", `{"audit": {"retention": "10y"}}`, ""},
		{"zero audit retention", `{"audit": {"retention": "0y"}}`, `config c.json:1:25: audit.retention = "0y": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
		{"empty audit retention", `{"audit": {"retention": ""}}`, `config c.json:1:25: audit.retention = "": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
		{"negative audit retention", `{"audit": {"retention": "-5y"}}`, `config c.json:1:25: audit.retention = "-5y": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
		{"audit retention as a number", `{"audit": {"retention": 5}}`, "config c.json:1:25: audit.retention: want a string, not number"},
		{"out of range", "{\"training\": {\n  \"factors\": 0}}", "config c.json:2:14: training.factors = 0: want an integer from 1 to 1024"},
		{"item fraction above 1", `{"training": {"item_fraction": 1.5}}`, "config c.json:1:32: training.item_fraction = 1.5: want a number in (0, 1]"},
		{"bad epsilon", `{"privacy": {"cap_epsilon": "lots"}}`, `config c.json:1:29: privacy.cap_epsilon = "lots": want a number > 0 or "inf"`},
		{"cap delta above a training run's", `{"privacy": {"cap_delta": 0.5}}`, "config c.json:1:27: privacy.cap_delta = 0.5: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{"cap delta below a training run's", `{"privacy": {"cap_delta": 1e-13}}`, "config c.json:1:27: privacy.cap_delta = 1e-13: want a number with 1e-12 ≤ δ ≤ 0.001"},
		{"cap delta at the bounds", `{"privacy": {"cap_delta": 1e-3}, "training": {"delta": 1e-12}}`, ""},
		{"no cap", `{"privacy": {"cap_epsilon": "inf", "cap_delta": 1e-12}}`, ""},
		{"rank above factors", `{"training": {"rank": 16, "factors": 8}}`, "config c.json:1:23: training.rank = 16 exceeds training.factors = 8: a private model has at most that many factors"},
		{"every problem, in the file's order", "{\"training\": {\"factors\": 0},\n \"retention\": {\"view\": \"x\"}, \"foo\": 1}",
			"config c.json:2:30: foo: unknown field; want retention, consent_defaults, training, privacy or audit"},
		{"every value problem, in the file's order", "{\"training\": {\"factors\": 0},\n \"retention\": {\"view\": \"x\"}}",
			"config c.json:1:26: training.factors = 0: want an integer from 1 to 1024\n" +
				`config c.json:2:24: retention.view = "x": want a period > 0 in years, months, weeks or days: "3y", "13mo", "2w", "90d", or a sum such as "1y6mo"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.json")
			if err := os.WriteFile(p, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSettings(p)
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), p, "c.json")
			}
			if got != tt.want {
				t.Errorf("loadSettings(%q) = %q,\nwant %q", tt.config, got, tt.want)
			}
			detail := strings.ReplaceAll(got, "config c.json", "")
			for _, bad := range []string{"main.", "Go struct", "Go value", "json: ", "EOF"} {
				if strings.Contains(detail, bad) {
					t.Errorf("loadSettings(%q) = %q: mentions %q", tt.config, got, bad)
				}
			}
		})
	}
}

// TestEpsilonSpellings: every ε of the command line and of the
// configuration file is inf (any case), ∞ or a plain decimal number; the
// other spellings strconv.ParseFloat takes (infinity, +inf, 1_0, 0x1p0)
// ran as ∞, 10 or 1, and are refused, naming the entry.
func TestEpsilonSpellings(t *testing.T) {
	c := newCLI(t)
	config := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(config, []byte(`{"training": {"epsilon": "infinity"}, "privacy": {"cap_epsilon": "0x1p4"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := pairsFile(t, t.TempDir(), "u.data")
	const want = "want a number from 0.001 to 100, or inf for a non-private model"
	for _, tt := range []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"eval", "--epsilon", "1,infinity", data}, exitUsage, "--epsilon: entry 2, infinity: " + want},
		{[]string{"eval", "--epsilon", "1_0", data}, exitUsage, "--epsilon: entry 1, 1_0: " + want},
		{[]string{"bench", "quality", "--epsilon", "5,+inf", data}, exitUsage, "--epsilon: entry 2, +inf: " + want},
		{[]string{"bench", "train", "--epsilon", "0x1p0", data}, exitUsage, "--epsilon: entry 1, 0x1p0: " + want},
		{[]string{"train", "--epsilon", "Infinity"}, exitUsage, "--epsilon Infinity: " + want},
		{[]string{"--config", config, "version"}, exitFailure, `training.epsilon = "infinity": want a number from 0.001 to 100, or "inf" for a non-private model`},
		{[]string{"--config", config, "version"}, exitFailure, `privacy.cap_epsilon = "0x1p4": want a number > 0 or "inf"`},
		{[]string{"eval", "--seeds", "1", "--factors", "2", "--epsilon", "INF,5.", data}, exitOK, ""},
	} {
		code, _, stderr := c.run(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("discret %s = exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}
}

// FuzzParseSettings: no configuration file crashes the reader; a file it
// accepts is one JSON value (after an optional byte order mark); every
// line of a refusal names the file, at a line and column inside it when it
// gives one, in the file's terms (no Go type names, no "json:" or "EOF").
func FuzzParseSettings(f *testing.F) {
	for _, seed := range []string{
		"", "null", "{}", "[]", `{"retention": {"view": "13mo", "purchase": "1y6mo"}}`,
		"\xef\xbb\xbf" + `{"consent_defaults": {"personalization": true}}`,
		`{"training": {"factors": 8, "rank": 16, "weights": {"view": 0.1, "like": 2}}}`,
		`{"privacy": {"cap_epsilon": "inf", "cap_delta": 1e-9, "cap_window": "30d", "non_private": "refuse"}}`,
		`{"audit": {"retention": "10y"}, "Training": {"Epsilon": "∞"}}`,
		"{\n  \"retention\": {\"view\": \"13mo\"},\n}", `{} {}`, `{"training": {"factors": 1.5}}`,
		`{"privacy": {"cap_epsilon": 1, "cap_epsilon": 2}}`, `{"a": {"b": [1, {"c": null}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := parseSettings("c.json", raw)
		if err == nil {
			body := bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
			if !json.Valid(body) {
				t.Fatalf("parseSettings(%q) accepted a file that is not one JSON value", raw)
			}
			return
		}
		lines := bytes.Count(raw, []byte("\n")) + 1
		for _, l := range strings.Split(err.Error(), "\n") {
			rest, ok := strings.CutPrefix(l, "config c.json")
			if !ok {
				t.Fatalf("parseSettings(%q): error line %q does not name the file", raw, l)
			}
			var line, col int
			if n, _ := fmt.Sscanf(rest, ":%d:%d:", &line, &col); n == 2 && (line < 1 || line > lines || col < 1) {
				t.Fatalf("parseSettings(%q): error line %q: position outside the file (%d lines)", raw, l, lines)
			}
			for _, bad := range []string{"main.", "Go struct", "Go value", "json: ", "EOF"} {
				if strings.Contains(rest, bad) {
					t.Fatalf("parseSettings(%q): error line %q mentions %q", raw, l, bad)
				}
			}
		}
	})
}
