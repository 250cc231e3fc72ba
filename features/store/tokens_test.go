package store

import (
	"reflect"
	"testing"
	"time"
)

func TestRevokedCustomerTokens(t *testing.T) {
	now := testNow
	o := diskOptions(t.TempDir())
	o.Now = func() time.Time { return now }
	db := mustOpen(t, o)
	ctx := t.Context()
	a, b := [CustomerTokenTagSize]byte{0: 1}, [CustomerTokenTagSize]byte{0: 2}
	for _, c := range []struct {
		tag    [CustomerTokenTagSize]byte
		expiry time.Time
		ok     bool
	}{
		{b, now.Add(time.Hour), true},
		{a, now.Add(time.Minute + 500*time.Millisecond), true}, // kept to the next whole second
		{a, now.Add(time.Minute + 500*time.Millisecond), true}, // again: no change
		{[CustomerTokenTagSize]byte{0: 3}, now, false},         // expired: refused
	} {
		err := db.RevokeCustomerToken(ctx, c.tag, c.expiry)
		if (err == nil) != c.ok {
			t.Errorf("RevokeCustomerToken(%x, %s) = %v, want ok %v", c.tag[:1], c.expiry, err, c.ok)
		}
	}
	want := []RevokedToken{
		{Tag: a, Expiry: now.Add(time.Minute + time.Second).UTC()},
		{Tag: b, Expiry: now.Add(time.Hour).UTC()},
	}
	got, err := db.RevokedCustomerTokens(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("RevokedCustomerTokens = %+v, %v; want %+v", got, err, want)
	}
	// A revocation lasts across a restart, and ends with its token.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, o)
	defer db.Close()
	now = now.Add(time.Minute + time.Second)
	got, err = db.RevokedCustomerTokens(ctx)
	if err != nil || !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("after a restart and a's expiry: RevokedCustomerTokens = %+v, %v; want %+v", got, err, want[1:])
	}
}
