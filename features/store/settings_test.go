package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestRecordSettings: settings are recorded with their audit entry, once
// per change, and read back with the time they were recorded.
func TestRecordSettings(t *testing.T) {
	ctx := t.Context()
	clock := testNow
	db := smallStore(t, "", func(o *Options) { o.Now = func() time.Time { return clock } })
	defer db.Close()
	if _, found, err := db.Settings(ctx); found || err != nil {
		t.Fatalf("Settings of a new store = found %v, %v; want none", found, err)
	}
	entry := AuditEntry{Action: AuditConfig, Object: "view=13mo"}
	for i, tc := range []struct {
		raw         string
		wantChanged bool
	}{{`{"a":"1"}`, true}, {`{"a":"1"}`, false}, {`{"a":"2"}`, true}} {
		clock = clock.Add(time.Minute)
		changed, err := db.RecordSettings(ctx, []byte(tc.raw), entry)
		if err != nil || changed != tc.wantChanged {
			t.Errorf("RecordSettings %d (%s) = %v, %v; want %v", i, tc.raw, changed, err, tc.wantChanged)
		}
	}
	rs, found, err := db.Settings(ctx)
	if err != nil || !found || !bytes.Equal(rs.Raw, []byte(`{"a":"2"}`)) || !rs.Time.Equal(clock) {
		t.Errorf("Settings = %+v, %v, %v; want the last settings, recorded at %v", rs, found, err, clock)
	}
	entries, _, err := db.Audit(ctx, AuditQuery{Actions: []AuditAction{AuditConfig}})
	if err != nil || len(entries) != 2 {
		t.Errorf("audit trail: %d config entries, %v; want 2 (one per change)", len(entries), err)
	}
	if _, err := db.RecordSettings(ctx, []byte(`{"a":"3"}`), AuditEntry{Action: AuditExport}); !errors.Is(err, ErrInvalidAudit) {
		t.Errorf("RecordSettings with an export entry = %v, want ErrInvalidAudit", err)
	}
	if rs, _, _ := db.Settings(ctx); !bytes.Equal(rs.Raw, []byte(`{"a":"2"}`)) {
		t.Errorf("a refused RecordSettings changed the settings to %s", rs.Raw)
	}
}
