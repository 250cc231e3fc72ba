package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

// The privacy settings a command runs under — the retention periods, the
// consent defaults, privacy.non_private and audit.retention of --config —
// are recorded in the data directory (store.RecordSettings), so that a
// command run without the --config in force, or with another, cannot
// quietly keep events longer, store or train on customers who never chose,
// or allow non-private runs. Settings that differ from those recorded are
// recorded in their place, with a `config` audit entry naming the changes,
// when none is looser; a looser one (a longer retention period, a consent
// default that grants, non-private runs allowed) makes the command stop,
// unless --accept-config-change says the change is meant. audit.retention
// is recorded and audited, never refused: it is the legal hold, whichever
// way it changes. A command given no configuration at all changes no
// recorded setting without --accept-config-change, stricter ones and the
// legal hold included: its defaults stand for a forgotten file, not a
// decision.

// privacySetting is one recorded setting: its configuration field, its
// short name in the audit entry, and its value as text.
type privacySetting struct {
	field, short, value string
}

// privacySettings returns s's recorded settings, defaults applied.
func (s settings) privacySettings() []privacySetting {
	var out []privacySetting
	for _, k := range []privacy.EventKind{privacy.View, privacy.AddToCart, privacy.Purchase, privacy.StoreVisit} {
		out = append(out, privacySetting{"retention." + k.String(), k.String(), s.retention.Period(k).String()})
	}
	nonPrivate := nonPrivateAllow
	if s.refuseNonPrivate {
		nonPrivate = nonPrivateRefuse
	}
	audit := s.auditRetention
	if audit.IsZero() {
		audit = retention.DefaultAudit
	}
	return append(out,
		privacySetting{"consent_defaults.personalization", "personalization", strconv.FormatBool(s.consent.Personalization)},
		privacySetting{"consent_defaults.in_store", "in_store", strconv.FormatBool(s.consent.InStore)},
		privacySetting{"privacy.non_private", "non_private", nonPrivate},
		privacySetting{"audit.retention", "audit_retention", audit.String()},
	)
}

// looserSetting reports whether value is a looser setting of field than
// old: a longer retention period, a consent default that grants, or
// non-private runs allowed. A value that cannot be compared (a recorded
// period that does not parse, a damaged record) counts as looser: the
// change then needs --accept-config-change.
func looserSetting(field, old, value string, now time.Time) bool {
	switch {
	case strings.HasPrefix(field, "retention."):
		o, err1 := retention.ParsePeriod(old)
		n, err2 := retention.ParsePeriod(value)
		return err1 != nil || err2 != nil || n.AddTo(now).After(o.AddTo(now))
	case strings.HasPrefix(field, "consent_defaults."):
		return old != "true" && value != "false"
	case field == "privacy.non_private":
		return old != nonPrivateAllow && value != nonPrivateRefuse
	}
	return false
}

// checkSettings records the privacy settings of d's configuration in its
// store if they differ from those recorded, and refuses looser ones unless
// --accept-config-change is given (see the top of this file). A change is
// noted on e.stderr, or in the server's log.
func checkSettings(ctx context.Context, e *env, d *dataEnv) error {
	accept := e.global.acceptConfig
	cur := d.settings.privacySettings()
	values := make(map[string]string, len(cur))
	for _, s := range cur {
		values[s.field] = s.value
	}
	raw, err := json.Marshal(values) // keys sorted: the same settings, the same bytes
	if err != nil {
		return err
	}
	rec, found, err := d.db.Settings(ctx)
	if err != nil {
		return err
	}
	if found && bytes.Equal(rec.Raw, raw) {
		return nil
	}
	var old map[string]string
	if found {
		if err := json.Unmarshal(rec.Raw, &old); err != nil && !accept {
			return fmt.Errorf("the privacy settings recorded in the data directory %s do not decode (%v): pass --accept-config-change to record the configuration's in their place", d.dir, err)
		}
	}
	now := time.Now()
	var changes, differ, looser, object []string
	for _, s := range cur {
		o, had := old[s.field]
		switch {
		case !found:
			object = append(object, s.short+"="+s.value)
		case !had || o != s.value:
			changes = append(changes, fmt.Sprintf("%s %s → %s", s.field, cmp.Or(o, "(none)"), s.value))
			object = append(object, fmt.Sprintf("%s %s→%s", s.short, cmp.Or(o, "none"), s.value))
			diff := fmt.Sprintf("%s %s (recorded: %s)", s.field, s.value, cmp.Or(o, "none"))
			differ = append(differ, diff)
			if had && looserSetting(s.field, o, s.value, now) {
				looser = append(looser, diff)
			}
		}
	}
	if len(differ) > 0 && e.global.config == "" && !accept {
		// No file at all is the forgotten configuration, not a decision:
		// its defaults replace no recorded setting, stricter ones (a
		// shorter retention period deletes events at the next
		// compaction) and the legal hold included.
		return fmt.Errorf("no configuration was given (--config, DISCRET_CONFIG), and the privacy settings recorded in the data directory %s on %s differ from the defaults: %s. Run with the configuration in force; or, if the defaults are meant, pass --accept-config-change once to record them (the audit trail records the change: 'discret audit --action config')",
			d.dir, rec.Time.Format(time.RFC3339), strings.Join(differ, ", "))
	}
	if len(looser) > 0 && !accept {
		return fmt.Errorf("this configuration loosens the privacy settings recorded in the data directory %s on %s: %s. Run with the configuration in force (--config, DISCRET_CONFIG); or, if the change is meant, pass --accept-config-change once to record the new settings (the audit trail records the change: 'discret audit --action config')",
			d.dir, rec.Time.Format(time.RFC3339), strings.Join(looser, ", "))
	}
	sep := ", " // between changes
	if !found {
		sep = " " // between the settings
	}
	entry := store.AuditEntry{Action: store.AuditConfig, Object: store.AuditObject(strings.Join(object, sep)), Counts: map[string]int64{"looser": int64(len(looser))}}
	if _, err := d.db.RecordSettings(ctx, raw, entry); err != nil {
		return err
	}
	if found {
		msg := fmt.Sprintf("privacy settings changed since %s (recorded in the audit trail): %s", rec.Time.Format(time.RFC3339), strings.Join(changes, ", "))
		if e.logger != nil {
			e.logger.Warn(msg)
		} else {
			fmt.Fprintf(e.stderr, "discret: %s\n", msg)
		}
	}
	return nil
}
