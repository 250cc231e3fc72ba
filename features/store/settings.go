package store

// The settings in force: the caller's privacy configuration (retention
// periods, consent defaults, ...), recorded in the store so that a command
// run under another configuration is noticed. The store keeps them as
// opaque bytes (the caller's encoding) with the time they were recorded;
// every change is in the audit trail (AuditConfig).
//
// Settings value: see values.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// settingsKey holds the settings in force (RecordSettings).
var settingsKey = []byte{tagMaint, 's', 'e', 't', 't', 'i', 'n', 'g', 's'}

var errBadSettings = fmt.Errorf("%w: recorded settings", ErrCorrupt)

// RecordedSettings are the settings last recorded by RecordSettings.
type RecordedSettings struct {
	// Raw is the caller's encoding of the settings.
	Raw []byte
	// Time is when they were recorded, UTC, to the second.
	Time time.Time
}

// Settings returns the settings last recorded, and false if none were.
func (db *DB) Settings(ctx context.Context) (RecordedSettings, bool, error) {
	if err := ctx.Err(); err != nil {
		return RecordedSettings{}, false, err
	}
	var rs RecordedSettings
	found := false
	err := db.view(func(txn *badger.Txn) error {
		item, err := txn.Get(settingsKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if rs.Time, rs.Raw, err = splitSeconds(v, errBadSettings); err != nil {
			return err
		}
		found = true
		return nil
	})
	if err != nil {
		return RecordedSettings{}, false, wrapf(err, "settings")
	}
	return rs, found, nil
}

// RecordSettings records raw as the settings in force, at the store's
// time, together with the audit entry e (Action AuditConfig), in one
// transaction; if raw is what is recorded already, it does nothing and
// returns false.
func (db *DB) RecordSettings(ctx context.Context, raw []byte, e AuditEntry) (bool, error) {
	if e.Action != AuditConfig {
		return false, fmt.Errorf("%w: settings recorded with the action %s, want %s", ErrInvalidAudit, e.Action, AuditConfig)
	}
	changed := false
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		changed = false
		item, err := txn.Get(settingsKey)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			same := false
			err := item.Value(func(v []byte) error {
				_, rest, err := splitSeconds(v, errBadSettings)
				same = err == nil && bytes.Equal(rest, raw)
				return nil
			})
			if err != nil || same {
				return err
			}
		}
		changed = true
		if err := txn.Set(settingsKey, encodeSettings(db.now(), raw)); err != nil {
			return err
		}
		return db.putAudit(ctx, txn, e)
	})
	if err != nil {
		return false, wrapf(err, "record settings")
	}
	return changed, nil
}
