package notice

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// TestFor: the notice follows the policy in force: each event category with
// its own period in words, each purpose with its default, and the audit
// trail's period; it states what an erasure keeps, and how each right is
// served.
func TestFor(t *testing.T) {
	p := retention.Policy{View: retention.Period{Months: 6}, Purchase: retention.Period{Years: 1, Months: 6, Days: 1}}
	n := For(p, consent.Defaults{Personalization: true}, retention.Period{Years: 2, Months: 3})
	want := map[string]string{
		"product views":                 "6 months from the event's date",
		"products added to your basket": "3 years from the event's date", // the default
		"purchases":                     "1 year 6 months 1 day from the event's date",
		"store visits":                  "13 months from the event's date",
		"consent choices":               "until you ask for erasure",
		"coupons offered":               "7 days from the offer",
		"the date of your erasure":      "indefinitely",
		"the record of each export or erasure of your data": "2 years 3 months from the action",
	}
	for data, period := range want {
		found := false
		for _, r := range n.Retention {
			if strings.HasPrefix(r.Data, data) {
				found = true
				if !strings.HasPrefix(r.Period, period) {
					t.Errorf("retention of %s = %q, want %q…", r.Data, r.Period, period)
				}
			}
		}
		if !found {
			t.Errorf("retention lacks %s…: %+v", data, n.Retention)
		}
	}
	for _, right := range []string{
		"Access and portability:",
		"Rectification: stored events cannot be edited; an event sent again with the same product, store, time and type replaces",
		"Withdrawal, objection and restriction:",
		"Erasure:",
		"data-protection authority",
	} {
		if !strings.Contains(n.Rights, right) {
			t.Errorf("rights lack %q: %s", right, n.Rights)
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

// TestForAuditPeriod: a zero audit period is stated as its default, as the
// store applies it.
func TestForAuditPeriod(t *testing.T) {
	for _, tc := range []struct {
		audit retention.Period
		want  string
	}{
		{retention.Period{}, "5 years from the action"},
		{retention.Period{Years: 2, Months: 3}, "2 years 3 months from the action"},
		{retention.Period{Days: 1}, "1 day from the action"},
	} {
		n := For(retention.Policy{}, consent.Defaults{}, tc.audit)
		got := n.Retention[len(n.Retention)-1].Period
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("For(audit %v): audit entries kept %q, want %q…", tc.audit, got, tc.want)
		}
	}
}
