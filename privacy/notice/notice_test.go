package notice

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// TestFor: the notice follows the policy in force: each event category with
// its own period in words, and each purpose with its default.
func TestFor(t *testing.T) {
	p := retention.Policy{View: retention.Period{Months: 6}, Purchase: retention.Period{Years: 1, Months: 6, Days: 1}}
	n := For(p, consent.Defaults{Personalization: true})
	want := map[string]string{
		"product views":                 "6 months from the event's date",
		"products added to your basket": "3 years from the event's date", // the default
		"purchases":                     "1 year 6 months 1 day from the event's date",
		"store visits":                  "13 months from the event's date",
		"consent choices":               "until you ask for erasure",
	}
	got := map[string]string{}
	for _, r := range n.Retention {
		got[r.Data] = r.Period
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("retention of %s = %q, want %q", k, got[k], v)
		}
	}
	if len(n.Purposes) != 2 || n.Purposes[0].Name != "personalization" || !strings.HasPrefix(n.Purposes[0].Default, "allowed unless") ||
		n.Purposes[1].Name != "in_store" || n.Purposes[1].Default != "consent required" {
		t.Errorf("purposes = %+v, want personalization opt-out and in_store opt-in", n.Purposes)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"purposes", "categories", "recipients", "retention", "source", "rights", "profiling"} {
		if !strings.Contains(string(b), `"`+key+`":`) {
			t.Errorf("notice JSON lacks %q: %s", key, b)
		}
	}
	for _, pp := range n.Purposes {
		if pp.Description == "" {
			t.Errorf("purpose %s has no description", pp.Name)
		}
	}
}
