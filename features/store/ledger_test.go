package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestLedger(t *testing.T) {
	t.Parallel()
	db := smallStore(t, t.TempDir(), nil)
	ctx := t.Context()
	if got, err := db.Ledger(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Ledger on an empty store = %v, %v; want none", got, err)
	}
	at := func(h int) time.Time { return testNow.Add(time.Duration(h) * time.Hour) }
	appends := []struct {
		t    time.Time
		data string
	}{
		{at(2), `{"n":1}`},
		{at(1), `{"n":2}`}, // an earlier clock reading sorts first
		{at(2).Add(400 * time.Microsecond), `{"n":3}`}, // same millisecond as n=1
		{at(3), `{"n":4}`},
	}
	for i, a := range appends {
		var seen int
		rec, err := db.AppendLedger(ctx, LedgerCharge{Time: a.t, Data: []byte(a.data), Check: func(prev []LedgerRecord) error {
			seen = len(prev)
			return nil
		}})
		if err != nil {
			t.Fatalf("AppendLedger(%s) error: %v", a.data, err)
		}
		if seen != i {
			t.Errorf("AppendLedger(%s): Check saw %d entries, want %d", a.data, seen, i)
		}
		if !rec.Time.Equal(a.t.Truncate(time.Millisecond)) || string(rec.Data) != a.data {
			t.Errorf("AppendLedger(%s) = %+v", a.data, rec)
		}
	}
	got, err := db.Ledger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		data string
		seq  uint32
	}{{`{"n":2}`, 0}, {`{"n":1}`, 0}, {`{"n":3}`, 1}, {`{"n":4}`, 0}}
	if len(got) != len(want) {
		t.Fatalf("Ledger = %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		if string(got[i].Data) != w.data || got[i].Seq != w.seq {
			t.Errorf("Ledger[%d] = %s seq %d, want %s seq %d", i, got[i].Data, got[i].Seq, w.data, w.seq)
		}
	}

	refuse := errors.New("cap exceeded")
	_, err = db.AppendLedger(ctx, LedgerCharge{Time: at(4), Data: []byte(`{}`), Check: func([]LedgerRecord) error { return refuse }})
	if err != refuse {
		t.Errorf("AppendLedger refused by its check = %v, want the check's error as it is", err)
	}
	for _, bad := range []LedgerCharge{
		{Time: at(5), Data: []byte("not json")},
		{Time: at(5), Data: []byte(`{"a":`)},
		{Time: time.Time{}, Data: []byte(`{}`)},
		{Time: at(5), Data: []byte(fmt.Sprintf(`{"a":"%0*d"}`, MaxLedgerEntry, 0))},
	} {
		if _, err := db.AppendLedger(ctx, bad); !errors.Is(err, ErrInvalidLedger) {
			t.Errorf("AppendLedger(%.20q at %v) = %v, want ErrInvalidLedger", bad.Data, bad.Time, err)
		}
	}
	if got, _ := db.Ledger(ctx); len(got) != 4 {
		t.Errorf("after refused appends, Ledger has %d entries, want 4", len(got))
	}
}

func TestLedgerKey(t *testing.T) {
	for _, tt := range []struct {
		t   time.Time
		seq uint32
	}{{testNow, 0}, {time.UnixMilli(-5).UTC(), 7}, {time.UnixMilli(0).UTC(), 1<<32 - 1}} {
		k := ledgerKey(tt.t, tt.seq)
		gt, gs, ok := decodeLedgerKey(k)
		if !ok || !gt.Equal(tt.t) || gs != tt.seq {
			t.Errorf("decodeLedgerKey(ledgerKey(%v, %d)) = %v, %d, %v", tt.t, tt.seq, gt, gs, ok)
		}
	}
	if _, _, ok := decodeLedgerKey([]byte("l123")); ok {
		t.Error("decodeLedgerKey(short key) ok, want false")
	}
}
