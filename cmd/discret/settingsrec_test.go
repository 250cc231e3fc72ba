package main

import (
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
)

// TestSettingsRecorded: the first command records the privacy settings in
// force; a stricter configuration is recorded in their place, a looser one
// is refused until --accept-config-change; each change has a config audit
// entry.
func TestSettingsRecorded(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("apikey", "create", "--name", "n", "--scope", "admin") // creates the store
	// trail reads the config entries from the store, newest first, without
	// a command of its own (which would record its settings).
	trail := func() []store.AuditEntry {
		t.Helper()
		db := c.openStore(t, nil)
		defer db.Close()
		entries, _, err := db.Audit(t.Context(), store.AuditQuery{Actions: []store.AuditAction{store.AuditConfig}})
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	if got := trail(); len(got) != 1 || got[0].Object != "view=13mo add_to_cart=3y purchase=3y store_visit=13mo personalization=false in_store=false non_private=allow audit_retention=5y" {
		t.Fatalf("audit trail of a new data directory: %+v, want the default settings recorded once", got)
	}

	for _, tc := range []struct {
		name, config string
		accept       bool   // --accept-config-change, after the command
		global       bool   // --accept-config-change, before it
		refused      string // a looser setting named in the refusal
		changed      string // the change in the audit entry
	}{
		{"the same settings", "", false, false, "", ""},
		{"shorter retention", `{"retention": {"view": "30d"}}`, false, false, "", "view 13mo→30d"},
		{"longer retention", `{"retention": {"view": "1y"}}`, false, false, "retention.view 1y (recorded: 30d)", ""},
		{"no configuration", "", false, false, "retention.view 13mo (recorded: 30d)", ""},
		{"accepted", "", true, false, "", "view 30d→13mo"},
		{"longer retention accepted", `{"retention": {"purchase": "30y"}}`, false, true, "", "purchase 3y→30y"},
		// No file at all is the forgotten one: its defaults replace no
		// recorded setting, a stricter one included; an empty file is a
		// decision.
		{"no configuration, stricter", "", false, false, "retention.purchase 3y (recorded: 30y)", ""},
		{"an empty configuration", `{}`, false, false, "", "purchase 30y→3y"},
		{"longer audit retention", `{"audit": {"retention": "10y"}}`, false, false, "", "audit_retention 5y→10y"},
		{"no configuration, a shorter legal hold", "", false, false, "audit.retention 5y (recorded: 10y)", ""},
		{"refuse non-private", `{"privacy": {"non_private": "refuse"}}`, false, false, "", "non_private allow→refuse, audit_retention 10y→5y"},
		{"allow non-private", "", false, false, "privacy.non_private allow (recorded: refuse)", ""},
		{"consent by default", `{"privacy": {"non_private": "refuse"}, "consent_defaults": {"in_store": true}}`, false, false, "consent_defaults.in_store true (recorded: false)", ""},
	} {
		c.config = ""
		if tc.config != "" {
			c.config = writeFile(t, "c.json", tc.config)
		}
		before := trail()
		args := []string{"models", "list"}
		if tc.accept {
			args = append(args, "--accept-config-change")
		}
		if tc.global {
			args = append([]string{"--accept-config-change"}, args...)
		}
		code, _, errOut := c.run(args...)
		switch {
		case tc.refused != "":
			if code != exitFailure || !strings.Contains(errOut, tc.refused) || !strings.Contains(errOut, "--accept-config-change") {
				t.Errorf("%s: exit %d, %q; want refused, naming %q and --accept-config-change", tc.name, code, errOut, tc.refused)
			}
		case code != exitOK:
			t.Errorf("%s: exit %d, %q; want accepted", tc.name, code, errOut)
		case tc.changed != "" && !strings.Contains(errOut, "privacy settings changed since"):
			t.Errorf("%s: stderr %q, want a note of the change", tc.name, errOut)
		}
		after := trail()
		looser := int64(0)
		if tc.accept || tc.global {
			looser = 1
		}
		switch {
		case tc.changed == "" && len(after) != len(before):
			t.Errorf("%s: config entries %d → %d, want none added", tc.name, len(before), len(after))
		case tc.changed != "" && (len(after) != len(before)+1 || after[0].Object != tc.changed || after[0].Counts["looser"] != looser):
			t.Errorf("%s: newest config entry %+v, want one naming %q, looser=%d", tc.name, after[0], tc.changed, looser)
		}
	}
}

// TestSettingsUndecodable: a settings record that does not decode stops
// every command until --accept-config-change records the configuration's.
func TestSettingsUndecodable(t *testing.T) {
	c := newCLI(t)
	c.mustRun("keygen")
	c.mustRun("apikey", "create", "--name", "n", "--scope", "admin")
	db := c.openStore(t, nil)
	if _, err := db.RecordSettings(t.Context(), []byte("{damaged"), store.AuditEntry{Action: store.AuditConfig}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, errOut := c.run("models", "list"); code != exitFailure || !strings.Contains(errOut, "do not decode") || !strings.Contains(errOut, "--accept-config-change") {
		t.Errorf("a command over a damaged settings record = %d, %q; want refused, pointing to --accept-config-change", code, errOut)
	}
	c.mustRun("models", "list", "--accept-config-change")
	c.mustRun("models", "list")
}

// TestLooserSetting: which changes of a setting loosen it.
func TestLooserSetting(t *testing.T) {
	now := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		field, old, value string
		want              bool
	}{
		{"retention.view", "13mo", "1y", false},
		{"retention.view", "1y", "13mo", true},
		{"retention.view", "30d", "1mo", false}, // from 1 February, a month is 28 days
		{"retention.view", "27d", "1mo", true},
		{"retention.purchase", "3y", "3y", false},
		{"retention.purchase", "3y", "1y6mo", false},
		{"consent_defaults.personalization", "false", "true", true},
		{"consent_defaults.in_store", "true", "false", false},
		{"privacy.non_private", "refuse", "allow", true},
		{"privacy.non_private", "allow", "refuse", false},
		{"audit.retention", "5y", "10y", false},
		{"audit.retention", "5y", "1y", false},
		// A recorded value that cannot be compared is looser: the change
		// needs --accept-config-change.
		{"retention.view", "13 months", "1y", true},
		{"retention.view", "", "1d", true},
		{"consent_defaults.personalization", "", "false", false},
		{"consent_defaults.personalization", "yes", "true", true},
		{"privacy.non_private", "", "refuse", false},
		{"privacy.non_private", "never", "allow", true},
	} {
		if got := looserSetting(tc.field, tc.old, tc.value, now); got != tc.want {
			t.Errorf("looserSetting(%s, %s → %s) = %v, want %v", tc.field, tc.old, tc.value, got, tc.want)
		}
	}
}
