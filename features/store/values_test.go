package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func TestEventValue(t *testing.T) {
	for _, tt := range []struct {
		q    uint32
		want string
	}{{1, "0101"}, {127, "017f"}, {128, "018001"}, {features.MaxQuantity, "01c0843d"}} {
		v := appendEventValue(nil, tt.q)
		if got := hex.EncodeToString(v); got != tt.want {
			t.Errorf("appendEventValue(%d) = %s, want %s", tt.q, got, tt.want)
		}
		if q, err := decodeEventValue(v); err != nil || q != tt.q {
			t.Errorf("decodeEventValue(%x) = %d, %v; want %d", v, q, err, tt.q)
		}
	}
	for _, v := range []string{"", "01", "0100", "02" + "01", "0101" + "00", "01c1843d"} {
		b, _ := hex.DecodeString(v)
		if q, err := decodeEventValue(b); err == nil {
			t.Errorf("decodeEventValue(%s) = %d, want an error", v, q)
		}
	}
}

func TestConsentValue(t *testing.T) {
	rec := consent.Record{Changes: []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Source: "web-form"},
		{Purpose: privacy.InStore, Granted: false, Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), Source: "pos:store-12"},
	}}
	v := encodeConsent(rec)
	back, err := decodeConsent(v)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRecord(back, rec) {
		t.Errorf("decodeConsent(encodeConsent(%v)) = %v", rec, back)
	}
	if back.Changes[1].Time.Location() != time.UTC {
		t.Errorf("decoded time in %v, want UTC", back.Changes[1].Time.Location())
	}
	erased := consent.Record{Changes: rec.Changes[:1], ErasedAt: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	ev := encodeConsent(erased)
	if back, err := decodeConsent(ev); err != nil || ev[0] != valueV2 || !sameRecord(back, erased) || !back.ErasedAt.Equal(erased.ErasedAt) {
		t.Errorf("decodeConsent(encodeConsent(%v)) = %v, %v (version %d); want it back, in v2", erased, back, err, ev[0])
	}
	if v[0] != valueV1 {
		t.Errorf("a record never erased is encoded in version %d, want v1 (what earlier releases wrote)", v[0])
	}
	empty, err := decodeConsent(encodeConsent(consent.Record{}))
	if err != nil || len(empty.Changes) != 0 {
		t.Errorf("decodeConsent(encodeConsent(zero)) = %v, %v", empty, err)
	}
	for _, bad := range [][]byte{
		nil, {valueV1}, {2, 0}, {valueV1, 1}, append(bytes.Clone(v), 0), v[:len(v)-1],
		{valueV1, 1, 3, 1, 0, 0, 0},                            // purpose 3
		{valueV1, 1, 1, 2, 0, 0, 0},                            // granted 2
		{valueV1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1},             // absurd count
		{valueV1, 1, 1, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0}, // 1e9 ns
		{valueV2, 0, 0},                                        // erased at 0
		{valueV2, 1, 0},                                        // erased before 1970
		{valueV2, 2},                                           // no count
	} {
		if r, err := decodeConsent(bad); err == nil {
			t.Errorf("decodeConsent(%x) = %v, want an error", bad, r)
		}
	}
}

// TestConsentDecisionTies pins the fast decision of AppendEvents to
// consent.Record.Latest on changes within one second: the withdrawal
// decides, whatever the nanoseconds and the order.
func TestConsentDecisionTies(t *testing.T) {
	sec := time.Unix(1_700_000_000, 0)
	at := func(ms int) time.Time { return sec.Add(time.Duration(ms) * time.Millisecond) }
	ch := func(granted bool, t time.Time) consent.Change {
		return consent.Change{Purpose: privacy.Personalization, Granted: granted, Time: t, Source: "web"}
	}
	for _, tc := range []struct {
		name    string
		changes []consent.Change
		want    bool
	}{
		{"withdrawal earlier in the second", []consent.Change{ch(false, at(200)), ch(true, at(500))}, false},
		{"withdrawal later in the second", []consent.Change{ch(true, at(200)), ch(false, at(500))}, false},
		{"grant applied last, same instant", []consent.Change{ch(false, at(0)), ch(true, at(0))}, false},
		{"grant one second later", []consent.Change{ch(false, at(900)), ch(true, at(1000))}, true},
		{"withdrawal one second earlier", []consent.Change{ch(true, at(1999)), ch(false, at(999))}, true},
	} {
		r := consent.Record{Changes: tc.changes}
		dc, err := consentDecision(encodeConsent(r))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		d := consent.Defaults{}
		if got, latest := dc.allows(privacy.Personalization, d), d.Allows(r, privacy.Personalization); got != tc.want || latest != tc.want {
			t.Errorf("%s: decision allows %v, consent.Defaults.Allows %v, want %v", tc.name, got, latest, tc.want)
		}
	}
}

func sameRecord(a, b consent.Record) bool {
	if len(a.Changes) != len(b.Changes) || !a.ErasedAt.Equal(b.ErasedAt) {
		return false
	}
	for i, c := range a.Changes {
		d := b.Changes[i]
		if c.Purpose != d.Purpose || c.Granted != d.Granted || !c.Time.Equal(d.Time) || c.Source != d.Source {
			return false
		}
	}
	return true
}

func TestMarkerValue(t *testing.T) {
	for _, s := range []scope{scopeAll, {kinds: 1 << privacy.StoreVisit}, {others: true}} {
		if back, err := decodeMarker(encodeMarker(s)); err != nil || back != s {
			t.Errorf("decodeMarker(encodeMarker(%+v)) = %+v, %v", s, back, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {1, 2, 2}, {1, 0, 1}, {1, 0, 0x20}, {2, 1, 2}, {1, 1, 2, 0}} {
		if s, err := decodeMarker(bad); err == nil {
			t.Errorf("decodeMarker(%x) = %+v, want an error", bad, s)
		}
	}
}

// FuzzConsentValue checks the consent codec: records round-trip, and any
// decodable value decodes again to the same record once re-encoded.
func FuzzConsentValue(f *testing.F) {
	f.Add(encodeConsent(consent.Record{Changes: []consent.Change{{Purpose: 1, Granted: true, Time: time.Unix(1, 2), Source: "s"}}}), int64(0), int64(0), "web", true)
	f.Add([]byte{valueV1, 0}, int64(-1e12), int64(999999999), "", false)
	f.Add(encodeConsent(consent.Record{Changes: []consent.Change{{Purpose: 1, Granted: true, Time: time.Unix(5, 0), Source: "s"}, {Purpose: 2, Granted: true, Time: time.Unix(9, 0), Source: "s"}}, ErasedAt: time.Unix(5, 0)}), int64(0), int64(0), "web", true)
	f.Fuzz(func(t *testing.T, raw []byte, sec, nsec int64, source string, granted bool) {
		r, err := decodeConsent(raw)
		if err == nil {
			back, err := decodeConsent(encodeConsent(r))
			if err != nil || !sameRecord(back, r) {
				t.Fatalf("decodeConsent(%x) = %v, re-encoded and decoded = %v, %v", raw, r, back, err)
			}
		}
		// The allocation-free decision agrees with consent.Defaults.
		dc, derr := consentDecision(raw)
		if (derr == nil) != (err == nil) {
			t.Fatalf("consentDecision(%x) error %v, decodeConsent error %v", raw, derr, err)
		}
		for _, d := range []consent.Defaults{{}, {Personalization: true}, {InStore: true}, {Personalization: true, InStore: true}} {
			if got, want := dc.kinds(d), allowedKinds(r, d); err == nil && got != want {
				t.Fatalf("consentDecision(%x).kinds(%+v) = %08b, want %08b (record %v)", raw, d, got, want, r)
			}
		}
		rec := consent.Record{Changes: []consent.Change{
			{Purpose: privacy.InStore, Granted: granted, Time: time.Unix(sec, nsec), Source: source},
			{Purpose: privacy.Personalization, Granted: !granted, Time: time.Unix(nsec, sec%1e9), Source: "x"},
		}}
		back, err := decodeConsent(encodeConsent(rec))
		if err != nil || !sameRecord(back, rec) {
			t.Fatalf("decodeConsent(encodeConsent(%v)) = %v, %v", rec, back, err)
		}
	})
}

// FuzzSecondsValue: a time value (erasure markers, backup times, the
// settings record) decodes to a time after the epoch, to the second, that
// encodes back to a value decoding the same; the settings value is a time
// value followed by the caller's bytes, returned as they were.
func FuzzSecondsValue(f *testing.F) {
	f.Add(encodeSeconds(time.Unix(1_700_000_000, 0)), []byte(`{"a":"b"}`))
	f.Add([]byte{valueV1, 0}, []byte{})
	f.Add([]byte{valueV1, 0x80, 0x80, 0x01}, []byte{0})
	f.Add([]byte{valueV1 + 1, 2}, []byte(nil))
	f.Add(binary.AppendVarint([]byte{valueV1}, maxUnixSecond+1), []byte("x"))
	f.Add(binary.AppendVarint([]byte{valueV1}, -1), []byte("x"))
	bad := errors.New("bad")
	f.Fuzz(func(t *testing.T, v, raw []byte) {
		at, rest, err := splitSeconds(v, bad)
		if err != nil {
			if err != bad {
				t.Fatalf("splitSeconds(%x): error %v, want the caller's", v, err)
			}
			if _, derr := decodeSeconds(v, bad); derr != bad {
				t.Fatalf("decodeSeconds(%x) = %v, but splitSeconds refuses it", v, derr)
			}
			return
		}
		if at.Unix() <= 0 || at.Unix() > maxUnixSecond || at.Nanosecond() != 0 || at.Location() != time.UTC {
			t.Fatalf("splitSeconds(%x) = %v", v, at)
		}
		if d, derr := decodeSeconds(v, bad); (derr == nil) != (len(rest) == 0) || derr == nil && !d.Equal(at) {
			t.Fatalf("decodeSeconds(%x) = %v, %v; splitSeconds gives %v and %d bytes after it", v, d, derr, at, len(rest))
		}
		back, got, err := splitSeconds(encodeSettings(at, raw), bad)
		if err != nil || !back.Equal(at) || !bytes.Equal(got, raw) {
			t.Fatalf("splitSeconds(encodeSettings(%v, %x)) = %v, %x, %v", at, raw, back, got, err)
		}
	})
}
