package store

// The audit trail: one entry per rights request answered (a customer's
// export or erasure) and per administrative action (an API key created or
// revoked, a model release made current by hand or by a training run, a
// non-private release deleted with a customer's data, a bulk consent
// import), so that the data-protection officer can show when
// each was done and by whom. Individual consent changes are not in it: the
// consent history records each with its time and source.
//
// An entry names its customer, if any, by a one-way hash of the pseudonym
// (AuditSubject), never by the pseudonym, so that the trail outlives the
// erasures it records (TestForgetLeavesNoTrace) and names nobody; whoever
// holds the master key can still find the entries about a customer by
// hashing their pseudonym again. Entries expire after
// Options.AuditRetention, by Badger TTL from Options.Now, as events do.
//
// Where the store makes the change itself, it writes the entry in the
// change's transaction: the first transaction of an erasure (Forget),
// CreateAPIKey, RevokeAPIKey, SetCurrentRelease, PutRelease with
// MakeCurrent, and RetireRelease. The caller records the others with RecordAudit once the
// action has succeeded: an export after its data has been read (and the
// export fails if the entry cannot be written), a consent import after it
// was applied. The actor comes from the context (WithAuditActor).
//
//	key:   t | time(8) | seq(4)        time: Unix nanoseconds, big-endian
//
// The store hands out keys in strictly increasing order (auditKeys): the
// time of the entry and seq 0, or, if that is not after the last key (two
// entries in the same nanosecond, a clock set back), the last key's time
// and the next seq. So the trail lists entries in the order they were
// written and no two share a key, across restarts too.
//	value: v1 | action(1) | via(1) | uvarint len | key id | uvarint len | name
//	          | has subject(1): 0, or 1 followed by subject(16)
//	          | uvarint len | object
//	          | uvarint n | n × (uvarint len | count name | uvarint count)
//
// Counts are stored in name order.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

// AuditAction is what an audit entry records.
type AuditAction uint8

// Audit actions.
const (
	AuditExport        AuditAction = iota + 1 // a customer's data exported (GDPR access)
	AuditForget                               // a customer erased (GDPR erasure)
	AuditKeyCreate                            // an API key created
	AuditKeyRevoke                            // an API key revoked
	AuditModelUse                             // a model release made current by hand
	AuditModelTrain                           // a training run made its release current
	AuditConsentImport                        // a file of consent choices about to be imported (counts "started"), or imported
	AuditModelRetire                          // a non-private release deleted with a customer's data
	AuditBackup                               // a copy of the store made (BackupInto)
	AuditBackupDelete                         // a copy of the store deleted (BackupInto)
	AuditRestore                              // the store restored from a backup copy (Reconcile's counts)
	AuditConfig                               // the privacy settings in force recorded, or changed (RecordSettings)
)

// auditActionNames names every action; an action is added here, and
// AuditActions and Valid follow.
var auditActionNames = [...]string{
	AuditExport:        "export",
	AuditForget:        "forget",
	AuditKeyCreate:     "apikey.create",
	AuditKeyRevoke:     "apikey.revoke",
	AuditModelUse:      "model.use",
	AuditModelTrain:    "model.train",
	AuditConsentImport: "consent.import",
	AuditModelRetire:   "model.retire",
	AuditBackup:        "backup",
	AuditBackupDelete:  "backup.delete",
	AuditRestore:       "restore",
	AuditConfig:        "config",
}

// AuditActions lists every action, in the order of their constants.
var AuditActions = func() []AuditAction {
	as := make([]AuditAction, 0, len(auditActionNames)-int(AuditExport))
	for a := AuditExport; int(a) < len(auditActionNames); a++ {
		as = append(as, a)
	}
	return as
}()

// Valid reports whether a is one of AuditActions.
func (a AuditAction) Valid() bool { return a >= AuditExport && int(a) < len(auditActionNames) }

// String returns the action's name ("forget", "apikey.create", ...).
func (a AuditAction) String() string {
	if !a.Valid() {
		return fmt.Sprintf("action(%d)", uint8(a))
	}
	return auditActionNames[a]
}

// AuditActionNames returns the names of every action, joined by ", ".
func AuditActionNames() string {
	names := make([]string, len(AuditActions))
	for i, a := range AuditActions {
		names[i] = a.String()
	}
	return strings.Join(names, ", ")
}

// ParseAuditAction parses an action's name.
func ParseAuditAction(s string) (AuditAction, error) {
	for _, a := range AuditActions {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("store: unknown audit action %q (want %s)", clipName(s), AuditActionNames())
}

// AuditVia is how an action was asked for.
type AuditVia uint8

// Channels of an action.
const (
	// ViaUnknown: by code that did not say who asked (no command or RPC of
	// Discret; the tests of each path check it).
	ViaUnknown  AuditVia = iota
	ViaCLI               // the command line; Name is the OS user, if known
	ViaAPI               // the API; KeyID and Name are the API key's
	ViaSchedule          // the server's periodic work (serve --train-interval, --backup-dir)
)

var auditViaNames = [...]string{ViaUnknown: "unknown", ViaCLI: "cli", ViaAPI: "api", ViaSchedule: "schedule"}

func (v AuditVia) valid() bool { return v <= ViaSchedule }

// String returns "unknown", "cli", "api" or "schedule".
func (v AuditVia) String() string {
	if !v.valid() {
		return fmt.Sprintf("via(%d)", uint8(v))
	}
	return auditViaNames[v]
}

// MaxAuditActorName bounds AuditActor.Name.
const MaxAuditActorName = 64

// AuditActor is who performed an action: the command line and the OS user
// who ran it, or an API key (its id and name, never its secret). A customer
// token never performs an audited action.
type AuditActor struct {
	Via   AuditVia
	KeyID string // the API key's id (ViaAPI)
	Name  string // the OS user (ViaCLI; "" if unknown) or the API key's name (ViaAPI)
}

// String describes the actor for people: "cli", "cli (alice)",
// "api key k3x9 (web-frontend)", "schedule".
func (a AuditActor) String() string {
	switch {
	case a.Via == ViaAPI:
		return fmt.Sprintf("api key %s (%s)", a.KeyID, a.Name)
	case a.Name != "":
		return fmt.Sprintf("%s (%s)", a.Via, a.Name)
	}
	return a.Via.String()
}

func (a AuditActor) validate() error {
	switch {
	case !a.Via.valid():
		return fmt.Errorf("via %d", uint8(a.Via))
	case a.KeyID != "" && !validKeyID(a.KeyID):
		return fmt.Errorf("key id must be 1-%d characters from [a-z0-9]", MaxAPIKeyIDLen)
	case !ValidAuditActorName(a.Name):
		return fmt.Errorf("name must be at most %d bytes of UTF-8 without control characters", MaxAuditActorName)
	}
	return nil
}

// ValidAuditActorName reports whether s can be an AuditActor's Name: at
// most MaxAuditActorName bytes of UTF-8 without control characters.
func ValidAuditActorName(s string) bool { return auditText(s, MaxAuditActorName) }

// auditText reports whether s is at most maxLen bytes of UTF-8 without
// control characters.
func auditText(s string, maxLen int) bool {
	if len(s) > maxLen || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

type auditActorKey struct{}

// WithAuditActor returns ctx carrying the actor that the audit entries of
// the store's writes under it name. The command line sets it once per
// command, the API once per request, from the request's API key.
func WithAuditActor(ctx context.Context, a AuditActor) context.Context {
	return context.WithValue(ctx, auditActorKey{}, a)
}

// AuditActorFrom returns the actor WithAuditActor put in ctx; ViaUnknown
// if none.
func AuditActorFrom(ctx context.Context) AuditActor {
	a, _ := ctx.Value(auditActorKey{}).(AuditActor)
	return a
}

// AuditSubject is the reference of an audit entry to a customer: the first
// 16 bytes of SHA-256 over a label of its own and the pseudonym. It names
// nobody by itself; SubjectOf the customer's pseudonym finds their entries.
type AuditSubject [16]byte

// auditSubjectLabel separates SubjectOf from any other hash of a pseudonym
// (erasedLabel).
const auditSubjectLabel = "discret/store/audit-subject/v1\x00"

// SubjectOf returns the audit reference of customer p.
func SubjectOf(p privacy.PseudoID) AuditSubject {
	sum := labelledHash(auditSubjectLabel, p)
	return AuditSubject(sum[:len(AuditSubject{})])
}

// IsZero reports whether s is the zero reference: no customer.
func (s AuditSubject) IsZero() bool { return s == AuditSubject{} }

// Short is an opaque short form of s for people: 16 hex digits (64
// bits, so that two of a store's customers are unlikely to share one even
// among millions), "" for the zero reference. Filters by customer compare
// the whole reference (AuditQuery.Subject).
func (s AuditSubject) Short() string {
	if s.IsZero() {
		return ""
	}
	return hex.EncodeToString(s[:8])
}

// Limits of an audit entry.
const (
	MaxAuditObject   = 160 // room for two release versions (AuditModelRetire)
	MaxAuditCounts   = 16
	maxAuditCountLen = 32
)

// AuditObject returns s as AuditEntry.Object can hold it: invalid UTF-8
// and control characters replaced by U+FFFD, clipped at a rune boundary to
// MaxAuditObject bytes, or features.WithheldName if it looks like an
// e-mail address (a consent file named after its customer): the trail
// outlives an erasure, and holds no customer id. For names the store does
// not control, such as a file's.
func AuditObject(s string) string {
	if features.LooksLikeEmail(s) {
		return features.WithheldName
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	s, _ = features.ClipAt(s, MaxAuditObject)
	return s
}

// AuditEntry is one entry of the audit trail.
type AuditEntry struct {
	// ID identifies the entry and orders the trail (time, then a
	// sequence number), in the order entries were written: 24 hex digits.
	// The store sets it.
	ID string
	// Time is when the action was recorded, UTC, to the second. The store
	// sets it from its clock (if the clock was set back, to the time of
	// the entry before).
	Time time.Time
	// Action is what was done.
	Action AuditAction
	// Actor is who did it; the store sets it from the context.
	Actor AuditActor
	// Subject is the customer an export or erasure was about, or whose
	// erasure or withdrawal retired a release; zero for the other actions.
	Subject AuditSubject
	// Object is what an administrative action acted on: the API key's id,
	// the release's version (for a retired release that was current, and
	// the one current instead: "v2 (current → v1)", "v2 (current → none)"),
	// the consent file's base name, the backup copy's directory name; at most
	// MaxAuditObject bytes of UTF-8 without control characters.
	Object string
	// Counts are the outcome: records erased per table, events exported,
	// rows imported... Names are 1-32 characters from [a-z_]; values ≥ 0.
	Counts map[string]int64
}

func (e *AuditEntry) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidAudit, fmt.Sprintf(format, args...))
	}
	if !e.Action.Valid() {
		return bad("action %d", uint8(e.Action))
	}
	if err := e.Actor.validate(); err != nil {
		return bad("actor: %v", err)
	}
	if !auditText(e.Object, MaxAuditObject) {
		return bad("object must be at most %d bytes of UTF-8 without control characters", MaxAuditObject)
	}
	if len(e.Counts) > MaxAuditCounts {
		return bad("%d counts (at most %d)", len(e.Counts), MaxAuditCounts)
	}
	for name, n := range e.Counts {
		if !tokenOf(name, maxAuditCountLen, lowerSnake) {
			return bad("count name must be 1-%d characters from [a-z_]", maxAuditCountLen)
		}
		if n < 0 {
			return bad("count %s is negative", name)
		}
	}
	return nil
}

// ErrInvalidAudit is returned for an audit entry that cannot be written.
var ErrInvalidAudit = errors.New("store: invalid audit entry")

const auditKeyLen = 1 + 8 + 4

func auditKey(t time.Time, seq uint32) []byte {
	return auditKeyAt(uint64(t.UnixNano()), seq)
}

func auditKeyAt(ns uint64, seq uint32) []byte {
	k := make([]byte, 1, auditKeyLen)
	k[0] = tagAudit
	k = binary.BigEndian.AppendUint64(k, ns)
	return binary.BigEndian.AppendUint32(k, seq)
}

// auditKeys hands out the audit keys of one DB in strictly increasing
// order.
type auditKeys struct {
	mu      sync.Mutex // guards the fields below
	started bool       // ns and seq hold the newest key, stored or handed out
	ns      uint64
	seq     uint32
}

// next returns the key of an entry written at now in txn: time now and seq
// 0 if that is after the last key, else the last key's time and the next
// seq. The first call reads the newest key stored, in txn.
func (k *auditKeys) next(txn *badger.Txn, now time.Time) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started {
		err := lastInTable(txn, tagAudit, func(item *badger.Item) error {
			key := item.Key()
			if _, ok := auditKeyTime(key); !ok {
				return fmt.Errorf("%w: audit key", ErrCorrupt)
			}
			k.ns, k.seq = binary.BigEndian.Uint64(key[1:9]), binary.BigEndian.Uint32(key[9:])
			return nil
		})
		if err != nil {
			return nil, err
		}
		k.started = true
	}
	switch ns := uint64(now.UnixNano()); {
	case ns > k.ns:
		k.ns, k.seq = ns, 0
	case k.seq == math.MaxUint32:
		k.ns, k.seq = k.ns+1, 0
	default:
		k.seq++
	}
	return auditKeyAt(k.ns, k.seq), nil
}

// auditKeyTime returns the time of an audit key.
func auditKeyTime(key []byte) (time.Time, bool) {
	if len(key) != auditKeyLen || key[0] != tagAudit {
		return time.Time{}, false
	}
	ns := binary.BigEndian.Uint64(key[1:9])
	if ns > math.MaxInt64 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(ns)).UTC(), true
}

// auditID is the ID of the entry under key, and auditIDKey its inverse.
func auditID(key []byte) string { return hex.EncodeToString(key[1:]) }

func auditIDKey(id string) ([]byte, bool) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != auditKeyLen-1 {
		return nil, false
	}
	return append([]byte{tagAudit}, b...), true
}

// ValidAuditID reports whether id has the form of an AuditEntry.ID.
func ValidAuditID(id string) bool {
	k, ok := auditIDKey(id)
	if !ok {
		return false
	}
	_, ok = auditKeyTime(k)
	return ok
}

func encodeAudit(e *AuditEntry) []byte {
	b := make([]byte, 0, 64+len(e.Actor.Name)+len(e.Object)+16*len(e.Counts))
	b = append(b, valueV1, byte(e.Action), byte(e.Actor.Via))
	b = appendString(b, e.Actor.KeyID)
	b = appendString(b, e.Actor.Name)
	if e.Subject.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = append(b, e.Subject[:]...)
	}
	b = appendString(b, e.Object)
	b = binary.AppendUvarint(b, uint64(len(e.Counts)))
	for _, name := range slices.Sorted(maps.Keys(e.Counts)) {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(e.Counts[name]))
	}
	return b
}

var errBadAudit = fmt.Errorf("%w: audit entry", ErrCorrupt)

// decodeAudit decodes the value v of the entry under key. It accepts only
// what encodeAudit produces for a valid entry (shortest varints, counts in
// name order), so that re-encoding gives v back.
func decodeAudit(key, v []byte) (AuditEntry, error) {
	t, ok := auditKeyTime(key)
	if !ok {
		return AuditEntry{}, fmt.Errorf("%w: audit key", ErrCorrupt)
	}
	e := AuditEntry{ID: auditID(key), Time: t.Truncate(time.Second)}
	d := decoder{b: v}
	ver := d.byte()
	e.Action, e.Actor.Via = AuditAction(d.byte()), AuditVia(d.byte())
	e.Actor.KeyID, e.Actor.Name = d.string(), d.string()
	switch flag := d.byte(); {
	case flag == 1 && len(d.b) >= len(e.Subject):
		d.b = d.b[copy(e.Subject[:], d.b):]
		d.err = d.err || e.Subject.IsZero()
	case flag != 0:
		d.err = true
	}
	e.Object = d.string()
	n := d.uvarint()
	d.err = d.err || n > MaxAuditCounts
	prev := ""
	for i := uint64(0); i < n && !d.err; i++ {
		name, c := d.string(), d.uvarint()
		if i > 0 && name <= prev || c > math.MaxInt64 {
			d.err = true
		}
		if e.Counts == nil {
			e.Counts = make(map[string]int64, n)
		}
		e.Counts[name], prev = int64(c), name
	}
	if d.err || ver != valueV1 || len(d.b) != 0 || e.validate() != nil {
		return AuditEntry{}, errBadAudit
	}
	return e, nil
}

// putAudit writes e in txn, with the time, actor and expiry the store
// gives it: the caller sets Action, Subject, Object and Counts.
func (db *DB) putAudit(ctx context.Context, txn *badger.Txn, e AuditEntry) error {
	now := db.now().UTC()
	e.Actor = AuditActorFrom(ctx)
	if err := e.validate(); err != nil {
		return err
	}
	key, err := db.auditKeys.next(txn, now)
	if err != nil {
		return err
	}
	exp := db.opts.AuditRetention.AddTo(now.Truncate(time.Second))
	return txn.SetEntry(&badger.Entry{Key: key, Value: encodeAudit(&e), ExpiresAt: uint64(exp.Unix())})
}

// RecordAudit appends an entry to the audit trail, durably, for an action
// that the store did not make itself: an export once its data has been
// read, a consent import once it has been applied. The caller sets
// Action, Subject, Object and Counts; the store sets the ID, the time and
// the actor (from ctx, WithAuditActor).
func (db *DB) RecordAudit(ctx context.Context, e AuditEntry) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if err := db.update(ctx, func(txn *badger.Txn) error { return db.putAudit(ctx, txn, e) }); err != nil {
		return wrapf(err, "audit %s", e.Action)
	}
	return nil
}

// ExportAudit is the audit entry of the export of d, customer p's data,
// for RecordAudit: the records exported per table.
func ExportAudit(p privacy.PseudoID, d CustomerData) AuditEntry {
	return AuditEntry{Action: AuditExport, Subject: SubjectOf(p), Counts: map[string]int64{
		TableConsent: int64(len(d.Consent)), TableEvents: int64(len(d.Events)), TablePushes: int64(len(d.Pushes)),
	}}
}

// AuditQuery selects audit entries. Its zero value selects every entry.
type AuditQuery struct {
	// Since and Until bound the entries' time: at or after Since, before
	// Until. Zero: no bound.
	Since, Until time.Time
	// Actions, if not empty, are the actions to list.
	Actions []AuditAction
	// Subject, if not zero, is the customer whose entries to list.
	Subject AuditSubject
	// Before, if not empty, is the ID of an entry: only older entries are
	// listed (the next page of a listing that ended with it).
	Before string
	// Limit, if positive, is the most entries to return.
	Limit int
}

// Audit returns the unexpired audit entries that q selects, newest first,
// and whether more follow the last one (the next page starts Before its
// ID).
func (db *DB) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	// Listed: the keys before seek, newest first (a reverse iterator
	// starts at the last key ≤ seek).
	seek := []byte{tagAudit, 0xff}
	if q.Before != "" {
		k, ok := auditIDKey(q.Before)
		if !ok {
			return nil, false, fmt.Errorf("store: audit: %w", ErrBadAuditID)
		}
		seek = k
	}
	if q.Until.After(time.Unix(0, 0)) && q.Until.Before(time.Unix(0, math.MaxInt64)) {
		if k := auditKey(q.Until, 0); bytes.Compare(k, seek) < 0 {
			seek = k // the first key at Until
		}
	}
	for _, a := range q.Actions {
		if !a.Valid() {
			return nil, false, fmt.Errorf("%w: action %d", ErrInvalidAudit, uint8(a))
		}
	}
	now := db.now()
	var out []AuditEntry
	more := false
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagAudit}, Reverse: true, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Seek(seek); it.Valid(); it.Next() {
			item := it.Item()
			key := item.Key()
			if bytes.Compare(key, seek) >= 0 {
				continue
			}
			t, ok := auditKeyTime(key)
			if !ok {
				return fmt.Errorf("%w: audit key", ErrCorrupt)
			}
			if !q.Since.IsZero() && t.Before(q.Since) {
				break // older still follow
			}
			if !q.Until.IsZero() && !t.Before(q.Until) || expired(item.ExpiresAt(), now) {
				continue
			}
			e, ok, err := decodeAuditAbout(item, q.Subject)
			if err != nil {
				return err
			}
			if !ok || len(q.Actions) > 0 && !slices.Contains(q.Actions, e.Action) {
				continue
			}
			if q.Limit > 0 && len(out) == q.Limit {
				more = true
				break
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, false, wrapf(err, "audit")
	}
	return out, more, nil
}

// decodeAuditAbout decodes the entry of item if it may be about s: a
// value that does not hold the 16 bytes of s is not, and is not decoded
// (most entries of a long trail). The zero s selects every entry.
func decodeAuditAbout(item *badger.Item, s AuditSubject) (AuditEntry, bool, error) {
	var e AuditEntry
	ok := false
	err := item.Value(func(v []byte) error {
		if !s.IsZero() && !bytes.Contains(v, s[:]) {
			return nil
		}
		var err error
		e, err = decodeAudit(item.Key(), v)
		ok = err == nil && (s.IsZero() || e.Subject == s)
		return err
	})
	return e, ok, err
}

// ErrBadAuditID is returned for an AuditQuery.Before that is no entry ID.
var ErrBadAuditID = errors.New("store: not an audit entry id (want the 24 hex digits of an entry's id)")

// AuditData is an audit entry about a customer, in their export: when,
// what, and through which channel. Not who: the OS user or the API key
// that acted is for the data-protection officer (Audit), not the
// customer.
type AuditData struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Actor  string    `json:"actor"` // the channel: AuditVia.String ("cli", "api", "schedule")
}

// auditAbout returns the unexpired entries about s in txn, oldest first.
func auditAbout(txn *badger.Txn, s AuditSubject, now time.Time) ([]AuditData, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagAudit}, PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	out := []AuditData{}
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if expired(item.ExpiresAt(), now) {
			continue
		}
		e, ok, err := decodeAuditAbout(item, s)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, AuditData{Time: e.Time, Action: e.Action.String(), Actor: e.Actor.Via.String()})
		}
	}
	return out, nil
}
