package store

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/privacy"
)

var testPseudo = privacy.PseudoID{0: 0xaa, 15: 0x01}

func TestEventKey(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	tests := []struct {
		name string
		e    features.Event
		want string // hex
	}{
		{
			"view",
			features.Event{Customer: testPseudo, Kind: privacy.View, Item: "sku", Time: at},
			"65" + "aa000000000000000000000000000001" + hex.EncodeToString(be64(uint64(at.UnixMilli())|1<<63)) + "01" + hex.EncodeToString([]byte("sku")) + "00",
		},
		{
			"visit",
			features.Event{Customer: testPseudo, Kind: privacy.StoreVisit, Store: "st-1", Time: time.UnixMilli(0).UTC()},
			"65" + "aa000000000000000000000000000001" + "8000000000000000" + "04" + "00" + hex.EncodeToString([]byte("st-1")),
		},
		{
			"before 1970",
			features.Event{Customer: testPseudo, Kind: privacy.Purchase, Item: "i", Store: "s", Time: time.UnixMilli(-1).UTC()},
			"65" + "aa000000000000000000000000000001" + "7fffffffffffffff" + "03" + "69" + "00" + "73",
		},
	}
	for _, tt := range tests {
		k, err := appendEventKey(nil, &tt.e)
		if err != nil {
			t.Fatalf("appendEventKey(%s) error: %v", tt.name, err)
		}
		if got := hex.EncodeToString(k); got != tt.want {
			t.Errorf("appendEventKey(%s) = %s, want %s", tt.name, got, tt.want)
		}
		var back features.Event
		if err := decodeEventKey(k, &back); err != nil {
			t.Fatalf("decodeEventKey(%s) error: %v", tt.name, err)
		}
		if back != tt.e {
			t.Errorf("decodeEventKey(%s) = %+v, want %+v", tt.name, back, tt.e)
		}
	}
}

func be64(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
	return b
}

func TestEventKeyRefused(t *testing.T) {
	long := strings.Repeat("x", privacy.MaxIDLen+1)
	for _, e := range []features.Event{
		{Kind: 0, Item: "a"},
		{Kind: 5, Item: "a"},
		{Kind: privacy.View, Item: "a\x00b"},
		{Kind: privacy.View, Item: long},
		{Kind: privacy.View, Item: "a", Store: long},
		{Kind: privacy.View, Item: "a", Store: "\x00"},
	} {
		if k, err := appendEventKey(nil, &e); err == nil {
			t.Errorf("appendEventKey(%+v) = %x, want an error", e, k)
		}
	}
	maxKey, err := appendEventKey(nil, &features.Event{Kind: privacy.View, Item: long[1:], Store: long[1:]})
	if err != nil || len(maxKey) != maxEventKeyLen {
		t.Errorf("appendEventKey(maximal identifiers) = %d bytes, %v; want %d bytes", len(maxKey), err, maxEventKeyLen)
	}
}

func TestDecodeEventKeyRefused(t *testing.T) {
	good, _ := appendEventKey(nil, &features.Event{Customer: testPseudo, Kind: privacy.View, Item: "i", Store: "s", Time: time.UnixMilli(5)})
	for _, tt := range []struct {
		name string
		key  []byte
	}{
		{"empty", nil},
		{"other table", append([]byte{tagConsent}, good[1:]...)},
		{"short", good[:eventFixedLen]},
		{"no separator", good[:eventFixedLen+1]},
		{"bad kind", func() []byte { k := bytes.Clone(good); k[eventFixedLen-1] = 7; return k }()},
		{"two separators", append(bytes.Clone(good), 0)},
		{"long item", append(append(bytes.Clone(good[:eventFixedLen]), bytes.Repeat([]byte("i"), privacy.MaxIDLen+1)...), 0)},
	} {
		var e features.Event
		if err := decodeEventKey(tt.key, &e); err == nil {
			t.Errorf("decodeEventKey(%s: %x) = %+v, want an error", tt.name, tt.key, e)
		}
	}
}

// TestEventKeyOrder checks that keys sort by customer, then time, then kind.
func TestEventKeyOrder(t *testing.T) {
	p1, p2 := privacy.PseudoID{1}, privacy.PseudoID{2}
	ordered := []features.Event{
		{Customer: p1, Kind: privacy.View, Item: "z", Time: time.UnixMilli(-5000)},
		{Customer: p1, Kind: privacy.View, Item: "z", Time: time.UnixMilli(0).UTC()},
		{Customer: p1, Kind: privacy.View, Item: "a", Time: time.UnixMilli(1)},
		{Customer: p1, Kind: privacy.View, Item: "b", Time: time.UnixMilli(1)},
		{Customer: p1, Kind: privacy.Purchase, Item: "a", Time: time.UnixMilli(1)},
		{Customer: p1, Kind: privacy.View, Item: "a", Time: time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Customer: p2, Kind: privacy.View, Item: "a", Time: time.UnixMilli(-1 << 40)},
	}
	var prev []byte
	for i, e := range ordered {
		k, err := appendEventKey(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			t.Errorf("key of %+v sorts before or equal to the key of %+v", e, ordered[i-1])
		}
		prev = k
	}
}

func TestCounterKey(t *testing.T) {
	for _, c := range []CounterKey{
		{"a", 0}, {"ingest.dropped.no_consent", DayOf(time.Date(2026, 5, 6, 23, 59, 59, 0, time.UTC))},
		{"x", -1}, {strings.Repeat("z", maxCounterNameLen), 1 << 30},
	} {
		back, err := decodeCounterKey(counterKey(c))
		if err != nil || back != c {
			t.Errorf("decodeCounterKey(counterKey(%v)) = %v, %v; want %v", c, back, err, c)
		}
	}
	if a, b := counterKey(CounterKey{"n", -1}), counterKey(CounterKey{"n", 0}); bytes.Compare(a, b) >= 0 {
		t.Errorf("counter key of day -1 (%x) does not sort before day 0 (%x)", a, b)
	}
}

func TestDay(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want Day
		str  string
	}{
		{time.Unix(0, 0), 0, "1970-01-01"},
		{time.Unix(86399, 999), 0, "1970-01-01"},
		{time.Unix(86400, 0), 1, "1970-01-02"},
		{time.Unix(-1, 0), -1, "1969-12-31"},
		{time.Unix(-86400, 0), -1, "1969-12-31"},
		{time.Unix(-86401, 0), -2, "1969-12-30"},
		{time.Date(2026, 2, 28, 23, 0, 0, 0, time.FixedZone("UTC-3", -3*3600)), 20513, "2026-03-01"},
	} {
		d := DayOf(tt.t)
		if d != tt.want || d.String() != tt.str {
			t.Errorf("DayOf(%v) = %d (%s), want %d (%s)", tt.t, d, d, tt.want, tt.str)
		}
	}
}

// FuzzEventKey checks the key codec both ways: a decodable key re-encodes to
// itself (so there is one key per event), and an encodable event decodes to
// itself with keys in (customer, time, kind) order.
func FuzzEventKey(f *testing.F) {
	seed, _ := appendEventKey(nil, &features.Event{Customer: testPseudo, Kind: privacy.View, Item: "sku-1", Store: "s", Time: time.UnixMilli(1700000000000)})
	f.Add(seed, []byte("0123456789abcdef"), int64(1700000000000), int64(-3), uint8(1), "sku-1", "", uint8(2))
	f.Add([]byte{tagEvent}, []byte{}, int64(0), int64(0), uint8(4), "", "store", uint8(4))
	f.Fuzz(func(t *testing.T, raw, pseudo []byte, ms, dms int64, kind uint8, item, store string, kind2 uint8) {
		var e features.Event
		if err := decodeEventKey(raw, &e); err == nil {
			k, err := appendEventKey(nil, &e)
			if err != nil || !bytes.Equal(k, raw) {
				t.Fatalf("decodeEventKey(%x) = %+v, which encodes to %x, %v", raw, e, k, err)
			}
		}
		e = features.Event{Kind: privacy.EventKind(kind), Item: item, Store: store, Time: time.UnixMilli(ms).UTC()}
		copy(e.Customer[:], pseudo)
		k, err := appendEventKey(nil, &e)
		if err != nil {
			return
		}
		var back features.Event
		if err := decodeEventKey(k, &back); err != nil || back != e {
			t.Fatalf("decodeEventKey(appendEventKey(%+v)) = %+v, %v", e, back, err)
		}
		// Order: a later (or same-time, greater-kind) event of the same
		// customer sorts after.
		e2 := e
		e2.Time = time.UnixMilli(ms + dms).UTC()
		e2.Kind = privacy.EventKind(kind2)
		k2, err := appendEventKey(nil, &e2)
		if err != nil || ms+dms < ms != (dms < 0) { // skip invalid kinds and overflow
			return
		}
		c := bytes.Compare(k, k2)
		switch {
		case dms > 0 && c >= 0, dms < 0 && c <= 0:
			t.Fatalf("keys of times %d and %d compare %d", ms, ms+dms, c)
		case dms == 0 && kind != kind2 && (c < 0) != (kind < kind2):
			t.Fatalf("keys of kinds %d and %d compare %d", kind, kind2, c)
		}
	})
}

// FuzzCounterKey checks that the counter key codec accepts exactly the keys
// it produces.
func FuzzCounterKey(f *testing.F) {
	f.Add(counterKey(CounterKey{"ingest.rows", 20000}))
	f.Add([]byte("a\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := decodeCounterKey(raw)
		if err != nil {
			return
		}
		if k := counterKey(c); !bytes.Equal(k, raw) {
			t.Fatalf("decodeCounterKey(%x) = %v, which encodes to %x", raw, c, k)
		}
	})
}

// TestErasedKey pins the key of an erasure record, which is stored: 'r' and
// the first 16 bytes of SHA-256("discret/store/erased/v1\x00" || pseudonym),
// computed with Python's hashlib.
func TestErasedKey(t *testing.T) {
	var p privacy.PseudoID
	for i := range p {
		p[i] = byte(i + 1)
	}
	if got, want := hex.EncodeToString(erasedKey(p)), "72"+"d8480e39ffeb57e1bc436b46c57be9b3"; got != want {
		t.Errorf("erasedKey = %s, want %s", got, want)
	}
	if testing.AllocsPerRun(10, func() { erasedKey(p) }) > 1 {
		t.Error("erasedKey allocates more than its key")
	}
}

// TestClipName: a name echoed in an error is clipped to maxCounterNameLen
// bytes at a rune boundary, so that valid UTF-8 stays valid.
func TestClipName(t *testing.T) {
	full := strings.Repeat("a", maxCounterNameLen)
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"ingest.rows", "ingest.rows"},
		{full, full},
		{full + "b", full + "…"},
		// "é" (2 bytes) straddles the limit: it goes whole.
		{full[1:] + "é", full[1:] + "…"},
		{strings.Repeat("é", maxCounterNameLen), strings.Repeat("é", maxCounterNameLen/2) + "…"},
	} {
		if got := clipName(tt.in); got != tt.want || !utf8.ValidString(got) {
			t.Errorf("clipName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
