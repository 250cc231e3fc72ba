package main

import (
	"strings"
	"testing"
)

// TestAPIKeyNamesUnique checks that create refuses the name of an active
// key, naming that key, and accepts it again once the key is revoked.
func TestAPIKeyNamesUnique(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	create := []string{"create", "--name", "k-recommend", "--scope", "recommend"}
	code, out, errOut := s.run(ctx, apikeyCommand(), create...)
	token := tokenRE.FindString(out)
	if code != exitOK || token == "" {
		t.Fatalf("apikey create = %d, %q, %q", code, out, errOut)
	}
	id := token[4:12]
	code, out, errOut = s.run(ctx, apikeyCommand(), create...)
	if code != exitFailure || tokenRE.MatchString(out) || !strings.Contains(errOut, id) || !strings.Contains(errOut, `"k-recommend"`) {
		t.Errorf("apikey create (name taken) = %d, %q, %q; want a failure naming key %s", code, out, errOut, id)
	}
	if code, _, _ := s.run(ctx, apikeyCommand(), "revoke", id); code != exitOK {
		t.Fatalf("apikey revoke %s = %d", id, code)
	}
	if code, out, errOut := s.run(ctx, apikeyCommand(), create...); code != exitOK || !tokenRE.MatchString(out) {
		t.Errorf("apikey create (name of a revoked key) = %d, %q, %q; want a new key", code, out, errOut)
	}
}

// TestAPIKeyRevokeWholeKey: revoke takes a whole pasted key as well as its
// ID, and never prints the secret, even for an unknown key.
func TestAPIKeyRevokeWholeKey(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	code, out, errOut := s.run(ctx, apikeyCommand(), "create", "--name", "leaked", "--scope", "recommend")
	token := tokenRE.FindString(out)
	if code != exitOK || token == "" {
		t.Fatalf("apikey create = %d, %q, %q", code, out, errOut)
	}
	secret := token[13:]
	code, out, errOut = s.run(ctx, apikeyCommand(), "revoke", token)
	if code != exitOK || !strings.Contains(out, "revoked API key "+token[4:12]) || strings.Contains(out+errOut, secret) {
		t.Errorf("apikey revoke KEY = %d, %q, %q; want key %s revoked and no secret", code, out, errOut, token[4:12])
	}
	unknown := "dsk_zzzzzzzz_" + secret
	code, out, errOut = s.run(ctx, apikeyCommand(), "revoke", unknown)
	if code != exitFailure || !strings.Contains(errOut, `no API key with id "zzzzzzzz"`) || strings.Contains(out+errOut, secret) {
		t.Errorf("apikey revoke UNKNOWN-KEY = %d, %q, %q; want a failure naming the id only", code, out, errOut)
	}
}
