package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOutputsNameTheAuditSubject: consent set, consent get and forget name
// the customer by their audit subject, the one 'discret audit' lists, never
// by their pseudonym, which an erasure removes from the store but not from
// a log of these outputs.
func TestOutputsNameTheAuditSubject(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	const customer = "subject.out@example.com"
	outputs := []struct{ name, out string }{
		{"consent set", c.mustRun("consent", "set", customer, "personalization=granted")},
		{"consent get", c.mustRun("consent", "get", customer)},
	}
	var exp struct{ Pseudonym string }
	if err := json.Unmarshal([]byte(c.mustRun("export", customer)), &exp); err != nil || len(exp.Pseudonym) != 32 {
		t.Fatalf("export: pseudonym %q, %v", exp.Pseudonym, err)
	}
	outputs = append(outputs, struct{ name, out string }{"forget", c.mustRun("forget", customer)})
	outputs = append(outputs, struct{ name, out string }{"forget, nothing held", c.mustRun("forget", customer)})
	var entry struct{ Subject string }
	line, _, _ := strings.Cut(c.mustRun("audit", "--json", "--customer", customer), "\n")
	if err := json.Unmarshal([]byte(line), &entry); err != nil || len(entry.Subject) != 16 {
		t.Fatalf("audit --customer: subject %q, %v", entry.Subject, err)
	}
	for _, o := range outputs {
		if !strings.Contains(o.out, "customer "+entry.Subject+" (audit subject)") || strings.Contains(o.out, exp.Pseudonym) {
			t.Errorf("%s printed:\n%s\nwant the customer named by their audit subject %s, not their pseudonym %s", o.name, o.out, entry.Subject, exp.Pseudonym)
		}
	}
}
