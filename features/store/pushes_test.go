package store

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
)

func testPush(minutes int, st, coupon string) Push {
	at := testNow.Add(time.Duration(minutes) * time.Minute)
	return Push{Time: at, Store: st, Coupon: coupon, ExpiresAt: at.Add(7 * 24 * time.Hour)}
}

func TestPushes(t *testing.T) {
	db := smallStore(t, "", nil)
	ctx := t.Context()
	p, q := privacy.PseudoID{1: 1}, privacy.PseudoID{1: 2}
	if err := db.AddPushes(ctx, p, []Push{testPush(0, "s1", "c1")}, consent.Defaults{}); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AddPushes without consent = %v; want ErrNoConsent", err)
	}
	// Defaults that allow in-store personalization allow pushes.
	if err := db.AddPushes(ctx, q, []Push{testPush(0, "s1", "c1")}, consent.Defaults{Personalization: true, InStore: true}); err != nil {
		t.Errorf("AddPushes under permissive defaults = %v", err)
	}
	grant(t, db, p)
	in := []Push{testPush(5, "s2", "c9"), testPush(5, "s2", "c1"), testPush(1, "s1", "c1")}
	if err := db.AddPushes(ctx, p, in, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Pushes(ctx, p)
	trunc := func(ps Push) Push { ps.ExpiresAt = ps.ExpiresAt.Truncate(time.Second); return ps }
	want := []Push{trunc(in[2]), trunc(in[1]), trunc(in[0])}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Pushes() = %+v, %v; want %+v (oldest first)", got, err, want)
	}
	d, err := db.Export(ctx, p)
	if err != nil || len(d.Pushes) != 3 || d.Pushes[0] != (PushData{Coupon: "c1", Store: "s1", Time: in[2].Time, ExpiresAt: in[2].ExpiresAt}) {
		t.Errorf("Export().Pushes = %+v, %v; want the 3 pushes", d.Pushes, err)
	}

	for _, bad := range []Push{
		{Time: testNow, Store: "", Coupon: "c", ExpiresAt: testNow.Add(time.Hour)},
		{Time: testNow, Store: "s", Coupon: "", ExpiresAt: testNow.Add(time.Hour)},
		{Time: testNow, Store: "s\x00t", Coupon: "c", ExpiresAt: testNow.Add(time.Hour)},
		{Store: "s", Coupon: "c", ExpiresAt: testNow.Add(time.Hour)},
		{Time: testNow, Store: "s", Coupon: "c", ExpiresAt: testNow},
	} {
		if err := db.AddPushes(ctx, p, []Push{bad}, consent.Defaults{}); !errors.Is(err, ErrInvalidPush) {
			t.Errorf("AddPushes(%+v) = %v; want ErrInvalidPush", bad, err)
		}
	}
}

func TestPushesExpire(t *testing.T) {
	now := testNow
	db := smallStore(t, "", func(o *Options) { o.Now = func() time.Time { return now } })
	ctx := t.Context()
	p := privacy.PseudoID{1: 1}
	grant(t, db, p)
	ps := testPush(0, "s1", "c1")
	ps.ExpiresAt = ps.Time.Add(time.Hour)
	if err := db.AddPushes(ctx, p, []Push{ps}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(time.Hour - time.Second)
	if got, _ := db.Pushes(ctx, p); len(got) != 1 {
		t.Errorf("Pushes() 1 s before expiry = %v; want the push", got)
	}
	now = testNow.Add(time.Hour)
	if got, _ := db.Pushes(ctx, p); len(got) != 0 {
		t.Errorf("Pushes() at expiry = %v; want none", got)
	}
}

// TestPushesErased checks that pushes go with Forget and with a withdrawal
// of either purpose they need.
func TestPushesErased(t *testing.T) {
	tests := []struct {
		name  string
		erase func(t *testing.T, db *DB, p privacy.PseudoID) (Removed, error)
	}{
		{"forget", func(t *testing.T, db *DB, p privacy.PseudoID) (Removed, error) { return db.Forget(t.Context(), p) }},
		{"withdraw in_store", func(t *testing.T, db *DB, p privacy.PseudoID) (Removed, error) {
			res, err := db.UpdateConsent(t.Context(), p, []consent.Change{{Purpose: privacy.InStore, Granted: false, Time: testNow, Source: "t"}}, consent.Defaults{})
			return res.Removed, err
		}},
		{"withdraw personalization", func(t *testing.T, db *DB, p privacy.PseudoID) (Removed, error) {
			res, err := db.UpdateConsent(t.Context(), p, []consent.Change{{Purpose: privacy.Personalization, Granted: false, Time: testNow, Source: "t"}}, consent.Defaults{})
			return res.Removed, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := smallStore(t, "", nil)
			ctx := t.Context()
			p, other := privacy.PseudoID{1: 1}, privacy.PseudoID{1: 2}
			for _, c := range []privacy.PseudoID{p, other} {
				grant(t, db, c)
				if err := db.AddPushes(ctx, c, []Push{testPush(0, "s1", "c1"), testPush(1, "s1", "c2")}, consent.Defaults{}); err != nil {
					t.Fatal(err)
				}
			}
			removed, err := tt.erase(t, db, p)
			if err != nil || removed[TablePushes] != 2 {
				t.Errorf("erasure removed %v, %v; want 2 %s", removed, err, TablePushes)
			}
			if n := rawKeys(t, db, customerPrefix(tagPush, p)); n != 0 {
				t.Errorf("%d push keys left", n)
			}
			if got, _ := db.Pushes(ctx, other); len(got) != 2 {
				t.Errorf("another customer's pushes = %v; want both kept", got)
			}
			if err := db.AddPushes(ctx, p, []Push{testPush(2, "s1", "c3")}, consent.Defaults{}); tt.name != "forget" && !errors.Is(err, ErrNoConsent) {
				t.Errorf("AddPushes after the withdrawal = %v; want ErrNoConsent", err)
			}
		})
	}
}

// TestPushesHiddenByMarker checks that a pending erasure hides pushes and
// refuses new ones.
func TestPushesHiddenByMarker(t *testing.T) {
	db := smallStore(t, "", nil)
	ctx := t.Context()
	p := privacy.PseudoID{1: 1}
	grant(t, db, p)
	if err := db.AddPushes(ctx, p, []Push{testPush(0, "s1", "c1")}, consent.Defaults{}); err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(erasureKey(p), encodeMarker(scope{kinds: kindSet(1 << privacy.StoreVisit)}))
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Pushes(ctx, p); err != nil || len(got) != 0 {
		t.Errorf("Pushes() under an erasure marker = %v, %v; want none", got, err)
	}
	if d, _ := db.Export(ctx, p); len(d.Pushes) != 0 {
		t.Errorf("Export().Pushes under an erasure marker = %v; want none", d.Pushes)
	}
	if err := db.AddPushes(ctx, p, []Push{testPush(1, "s1", "c2")}, consent.Defaults{}); !errors.Is(err, ErrNoConsent) {
		t.Errorf("AddPushes under an erasure marker = %v; want ErrNoConsent", err)
	}
}

func TestPushKey(t *testing.T) {
	p := privacy.PseudoID{0: 0xaa, 15: 1}
	ps := Push{Time: time.UnixMilli(1234).UTC(), Store: "st", Coupon: "cp"}
	key, err := appendPushKey(nil, p, ps)
	if err != nil {
		t.Fatal(err)
	}
	want := "f" + string(p[:]) + string(be64(1234|1<<63)) + "st\x00cp"
	if string(key) != want {
		t.Errorf("appendPushKey = %q, want %q", key, want)
	}
	if got, err := decodePushKey(key); err != nil || got != ps {
		t.Errorf("decodePushKey = %+v, %v; want %+v", got, err, ps)
	}
}

// FuzzPushKey checks that decodePushKey accepts exactly the keys
// appendPushKey builds.
func FuzzPushKey(f *testing.F) {
	p := privacy.PseudoID{3: 3}
	k, _ := appendPushKey(nil, p, Push{Time: testNow, Store: "store-1", Coupon: "coupon-1"})
	f.Add(k)
	f.Add([]byte("f0123456789abcdef01234567\x00c"))
	f.Fuzz(func(t *testing.T, key []byte) {
		ps, err := decodePushKey(key)
		if err != nil {
			return
		}
		var q privacy.PseudoID
		copy(q[:], key[1:pseudoEnd])
		again, err := appendPushKey(nil, q, ps)
		if err != nil || string(again) != string(key) {
			t.Errorf("decodePushKey(%q) = %+v, which encodes to %q, %v", key, ps, again, err)
		}
	})
}
