package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/release"
)

// TestForgetDeletesNonPrivateReleases: erasing a customer deletes the
// non-private releases trained on their events, keeps the private ones and
// makes the newest private one current; the export says so beforehand.
func TestForgetDeletesNonPrivateReleases(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(200, 30, 6000, 3)
	version := func(out string) string {
		t.Helper()
		m := versionRE.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("train output has no version:\n%s", out)
		}
		return m[1]
	}
	// The public catalogue, so that no DP item selection can leave the run
	// without items on this small dataset.
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	private := version(c.mustRun("train", "--epsilon", "2", "--factors", "8"))
	nonPrivate := version(c.mustRun("train", "--epsilon", "inf", "--allow-non-private", "--factors", "8", "--iterations", "2"))

	// A customer with stored events.
	raw, err := os.ReadFile(filepath.Join(gen, synth.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	// customerOf returns a customer whose export lists release v.
	customerOf := func(v string) string {
		t.Helper()
		for _, line := range strings.Split(string(raw), "\n") {
			var ev struct {
				Customer string `json:"customer"`
			}
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			if strings.Contains(c.mustRun("export", ev.Customer), v) {
				return ev.Customer
			}
		}
		t.Fatalf("no customer's export lists release %s", v)
		return ""
	}
	customer := customerOf(nonPrivate)
	var exp struct {
		Derived release.Derived `json:"derived"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("export", customer)), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Derived.Note != release.DerivedNote+release.NonPrivateNote {
		t.Errorf("export note = %q, want the non-private sentence", exp.Derived.Note)
	}

	out := c.mustRun("forget", customer)
	for _, want := range []string{
		"deleted non-private release " + nonPrivate,
		"current release is now " + private,
		"erased customer",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("forget output lacks %q:\n%s", want, out)
		}
	}
	// The trail shows the retirement, naming the successor, with the erasure.
	trail := c.mustRun("audit", "--customer", customer)
	for _, want := range []string{"model.retire", nonPrivate + " (current → " + private + ")", "forget"} {
		if !strings.Contains(trail, want) {
			t.Errorf("audit --customer after forget lacks %q:\n%s", want, trail)
		}
	}
	list := c.mustRun("models", "list")
	if strings.Contains(list, nonPrivate) || !strings.Contains(list, private) {
		t.Errorf("models list after forget:\n%s\nwant %s current and %s gone", list, private, nonPrivate)
	}
	if out := c.mustRun("models", "show", "current"); !strings.Contains(out, private) {
		t.Errorf("models show current after forget:\n%s\nwant %s", out, private)
	}

	// A withdrawal of personalization erases the events too, so it deletes
	// the non-private releases first: by `consent set` and by `consent
	// import`. Afterwards no `forget` could find them.
	for _, how := range []string{"set", "import"} {
		np := version(c.mustRun("train", "--epsilon", "inf", "--allow-non-private", "--factors", "8", "--iterations", "2"))
		who := customerOf(np)
		var out string
		if how == "set" {
			out = c.mustRun("consent", "set", who, "personalization=withdrawn")
		} else {
			file := writeFile(t, "withdraw.jsonl", `{"customer":"`+who+`","purpose":"personalization","granted":false,"time":"`+time.Now().UTC().Format(time.RFC3339)+`","source":"crm"}`)
			out = c.mustRun("consent", "import", file)
		}
		for _, want := range []string{"deleted non-private release " + np, "current release is now " + private} {
			if !strings.Contains(out, want) {
				t.Errorf("consent %s (withdrawal) output lacks %q:\n%s", how, want, out)
			}
		}
		if list := c.mustRun("models", "list"); strings.Contains(list, np) {
			t.Errorf("models list after consent %s (withdrawal) still lists %s:\n%s", how, np, list)
		}
	}
}

// TestForgetLasts is the data-protection officer's check that an erasure
// lasts: importing the consent file and the event file again, as a nightly
// CRM export would, brings nothing of an erased customer back.
func TestForgetLasts(t *testing.T) {
	c := newCLI(t)
	c.config = writeFile(t, "c.json", `{"retention": {"view": "6mo"}, "audit": {"retention": "2y"}}`)
	gen := t.TempDir()
	c.mustRun("keygen")
	c.mustRun("gen", "--out", gen, "--customers", "50", "--items", "20", "--events", "1500", "--seed", "5")
	consentFile, eventsFile := filepath.Join(gen, synth.ConsentFile), filepath.Join(gen, synth.EventsFile)
	c.mustRun("consent", "import", consentFile)
	c.mustRun("import", eventsFile)
	raw, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	type export struct {
		Consent    []json.RawMessage `json:"consent"`
		Events     []json.RawMessage `json:"events"`
		ErasedAt   time.Time         `json:"erased_at"`
		Processing struct {
			Purposes  []struct{ Name string } `json:"purposes"`
			Retention []struct {
				Data, Period string
			} `json:"retention"`
			Recipients string `json:"recipients"`
		} `json:"processing"`
	}
	exportOf := func(customer string) export {
		t.Helper()
		var x export
		if err := json.Unmarshal([]byte(c.mustRun("export", customer)), &x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	customer := ""
	for _, line := range strings.Split(string(raw), "\n") {
		var ev struct {
			Customer string `json:"customer"`
		}
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Customer != "" {
			if x := exportOf(ev.Customer); len(x.Events) > 0 && len(x.Consent) > 0 {
				customer = ev.Customer
				break
			}
		}
	}
	if customer == "" {
		t.Fatal("no customer with consent and events in the generated data")
	}
	// The export states the processing under the configuration in force.
	if p := exportOf(customer).Processing; len(p.Purposes) != 2 || p.Recipients == "" || len(p.Retention) == 0 ||
		p.Retention[0].Data != "product views" || p.Retention[0].Period != "6 months from the event's date" ||
		!strings.HasPrefix(p.Retention[len(p.Retention)-1].Period, "2 years from the action") {
		t.Errorf("export processing = %+v; want both purposes, recipients, views kept 6 months and audit entries 2 years as configured", p)
	}
	c.mustRun("forget", customer)
	// Under a default of yes, an erased customer's purposes are withdrawn,
	// and consent get says why.
	conf := c.config
	c.config = writeFile(t, "c2.json", `{"retention": {"view": "6mo"}, "audit": {"retention": "2y"}, "consent_defaults": {"personalization": true}}`)
	if out := c.mustRun("consent", "get", "--accept-config-change", customer); !regexp.MustCompile(`personalization +no +none since this customer's erasure 20`).MatchString(out) {
		t.Errorf("consent get after forget:\n%s\nwant personalization no, since the erasure", out)
	}
	var got struct {
		Allowed  map[string]bool `json:"allowed"`
		ErasedAt time.Time       `json:"erased_at"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("consent", "get", "--json", customer)), &got); err != nil || got.Allowed["personalization"] || got.ErasedAt.IsZero() {
		t.Errorf("consent get --json after forget = %+v, %v; want personalization not allowed and erased_at set", got, err)
	}
	c.config = conf

	out := c.mustRun("consent", "import", consentFile)
	if !strings.Contains(out, "not recorded: dated at or before the erasure of their customer") {
		t.Errorf("consent import after an erasure does not say the erased customer's choices were not recorded:\n%s", out)
	}
	c.mustRun("import", eventsFile)
	x := exportOf(customer)
	if len(x.Consent) != 0 || len(x.Events) != 0 || x.ErasedAt.IsZero() {
		t.Errorf("after the erasure and a re-import of both files, export = %d consent choices, %d events, erased_at %v; want none, none, set", len(x.Consent), len(x.Events), x.ErasedAt)
	}
}

// TestConsentSetRightAfterForget: a choice that `consent set` dates itself
// is recorded even in the second of the erasure just done (it waits for the
// next second), not dropped as predating the erasure. Without the wait,
// this fails whenever the two commands run in the same second, which they
// nearly always do.
func TestConsentSetRightAfterForget(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("consent", "set", "back-again-1", "personalization=granted")
	c.mustRun("forget", "back-again-1")
	out := c.mustRun("consent", "set", "back-again-1", "personalization=granted")
	if strings.Contains(out, "not recorded") {
		t.Errorf("consent set right after forget:\n%s\nwant the choice recorded", out)
	}
	var x struct {
		Consent  []json.RawMessage `json:"consent"`
		ErasedAt time.Time         `json:"erased_at"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("export", "back-again-1")), &x); err != nil {
		t.Fatal(err)
	}
	if len(x.Consent) != 1 || x.ErasedAt.IsZero() {
		t.Errorf("export after forget and a new grant = %d consent choices, erased_at %v; want 1, set", len(x.Consent), x.ErasedAt)
	}
}
