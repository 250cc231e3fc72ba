package store

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// CustomerData is everything the store holds about one customer, in the
// shape of a data-subject access answer (JSON).
type CustomerData struct {
	Customer string          `json:"pseudonym"` // in hex, as the API's export names it
	Consent  []ConsentChange `json:"consent"`   // history, in the order applied
	Events   []EventData     `json:"events"`    // unexpired, oldest first
	// Pushes are the coupons offered to the customer in stores
	// (pushes.go), unexpired, oldest first.
	Pushes []PushData `json:"coupon_pushes"`
	// ErasurePending is set while an erasure of some of this data is under
	// way; the data it covers is already left out.
	ErasurePending bool `json:"erasure_pending,omitempty"`
	// ErasedAt is the time of the customer's last erasure (Forget), zero if
	// never: the one fact the store keeps after an erasure (erased.go).
	ErasedAt time.Time `json:"erased_at,omitzero"`
	// Audit lists the audit entries about the customer (audit.go), oldest
	// first: when their data was exported or erased, and through which
	// channel (not by whom: AuditData). The
	// export that returns this data is recorded after it is read, so it is
	// not among them.
	Audit []AuditData `json:"audit"`
}

// ConsentChange is one recorded consent choice.
type ConsentChange struct {
	Purpose string    `json:"purpose"` // privacy.Purpose wire name
	Granted bool      `json:"granted"`
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
}

// EventData is one stored event.
type EventData struct {
	Type      string    `json:"type"` // privacy.EventKind wire name
	Item      string    `json:"item,omitempty"`
	Store     string    `json:"store,omitempty"`
	Time      time.Time `json:"time"`
	Quantity  uint32    `json:"quantity"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Export returns everything held about customer p, from one snapshot, reading
// every customer table and the audit entries about p. A customer the store
// knows nothing about gets empty lists. Export records nothing: the caller
// that answers an access request records it (RecordAudit, AuditExport).
func (db *DB) Export(ctx context.Context, p privacy.PseudoID) (CustomerData, error) {
	return db.export(ctx, p, true)
}

// ExportRecords is Export without the audit entries (Audit stays empty):
// p's records alone, without a scan of the audit trail, for a caller that
// needs only them, such as an erasure that looks for the releases derived
// from p's events (release.ForgetCustomer).
func (db *DB) ExportRecords(ctx context.Context, p privacy.PseudoID) (CustomerData, error) {
	return db.export(ctx, p, false)
}

func (db *DB) export(ctx context.Context, p privacy.PseudoID, withAudit bool) (CustomerData, error) {
	d := CustomerData{Customer: p.String(), Consent: []ConsentChange{}, Events: []EventData{}, Pushes: []PushData{}, Audit: []AuditData{}}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	now := db.now()
	err := db.view(func(txn *badger.Txn) error {
		pending, err := getMarker(txn, p)
		if err != nil {
			return err
		}
		d.ErasurePending = !pending.empty()
		if d.ErasedAt, err = getErased(txn, p); err != nil {
			return err
		}
		if withAudit {
			if d.Audit, err = auditAbout(txn, SubjectOf(p), now); err != nil {
				return err
			}
		}
		for _, t := range customerTables {
			err := func() error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: customerPrefix(t.tag, p)})
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					item := it.Item()
					exp := item.ExpiresAt()
					if t.tag == tagEvent {
						exp = db.eventExpiry(item.Key(), exp)
					}
					if expired(exp, now) || t.erasedBy(pending, item.Key()) {
						continue
					}
					err := item.Value(func(v []byte) error {
						return t.export(&d, item.Key(), v, exp)
					})
					if err != nil {
						return fmt.Errorf("table %s: %w", t.name, err)
					}
				}
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return CustomerData{}, wrapf(err, "export")
	}
	return d, nil
}

func exportConsent(d *CustomerData, _, v []byte, _ uint64) error {
	r, err := decodeConsent(v)
	if err != nil {
		return err
	}
	for _, c := range r.Changes {
		d.Consent = append(d.Consent, ConsentChange{Purpose: c.Purpose.String(), Granted: c.Granted, Time: c.Time, Source: c.Source})
	}
	return nil
}

func exportEvent(d *CustomerData, key, v []byte, exp uint64) error {
	var e features.Event
	if err := decodeEventKey(key, &e); err != nil {
		return fmt.Errorf("%w: event key", ErrCorrupt)
	}
	q, err := decodeEventValue(v)
	if err != nil {
		return err
	}
	ed := EventData{Type: e.Kind.String(), Item: e.Item, Store: e.Store, Time: e.Time, Quantity: q}
	if exp != 0 {
		ed.ExpiresAt = time.Unix(int64(exp), 0).UTC()
	}
	d.Events = append(d.Events, ed)
	return nil
}
