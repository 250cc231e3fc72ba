package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/serve/auth"
)

func apikeyCommand() *command {
	return &command{
		name:    "apikey",
		summary: "create, list and revoke API keys for `discret serve`",
		help: `Apikey manages the API keys that clients of 'discret serve' send as
"Authorization: Bearer KEY" (REST) or "authorization" metadata (gRPC).

Scopes:
  recommend  recommendations, similar and popular items, store entries, and
             customer tokens: short-lived tokens for one customer's device
             (POST /v1/customers/{customer}/tokens; see the README)
  events     write events
  consent    read and record consent
  admin      export and erase customers, catalogue, coupons, models
  all        every scope (for demos; give real clients only what they need)

A key is printed once, when it is created; only a hash of it is stored.
Keys live in the data directory, which one process opens at a time: these
commands run while 'discret serve' is stopped. While it runs, manage keys
through its API with an admin key instead, which takes effect at the next
request (a leaked key is revoked without a restart):

  curl -H "Authorization: Bearer $ADMIN" -d '{"name":"pos-12","scopes":["recommend"]}' localhost:8080/v1/apikeys
  curl -H "Authorization: Bearer $ADMIN" localhost:8080/v1/apikeys
  curl -H "Authorization: Bearer $ADMIN" -X POST localhost:8080/v1/apikeys/ID:revoke

(gRPC: discret.v1.AdminService CreateApiKey, ListApiKeys, RevokeApiKey.)`,
		sub: []*command{apikeyCreateCommand(), apikeyListCommand(), apikeyRevokeCommand()},
	}
}

func apikeyCreateCommand() *command {
	var name, scopes string
	return &command{
		name:    "create",
		args:    "--name NAME --scope SCOPE[,SCOPE...]",
		summary: "create a key and print it (once)",
		help: `Create makes a new API key with the given scopes and prints it. Store it
in the client's secret store right away: it cannot be shown again.

Names tell keys apart in the server's logs (key.name), so a name used by a
key that is not revoked is refused; revoke that key first to reuse its name.

  discret apikey create --name web-frontend --scope recommend,events`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&name, "name", "", "label of the key, `NAME` (1-64 characters from A-Za-z0-9._:/-; no @)")
			fs.StringVar(&scopes, "scope", "", "comma-separated `SCOPES`: recommend, events, consent, admin, or all")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			if !auth.ValidName(name) {
				return usagef("--name: %v", auth.ErrInvalidName)
			}
			if scopes == "" {
				return usagef("--scope is required (recommend, events, consent, admin or all)")
			}
			scope, err := auth.ParseScope(scopes)
			if err != nil {
				return usagef("--scope: %v", err)
			}
			d, keys, err := openKeys(ctx, e, true)
			if err != nil {
				return err
			}
			defer d.Close()
			token, key, err := keys.Create(ctx, name, scope)
			if taken := (*auth.NameTakenError)(nil); errors.As(err, &taken) {
				return fmt.Errorf("API key %s is already named %q; choose another name, or revoke it first ('discret apikey revoke %s')", taken.Holder.ID, name, taken.Holder.ID)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created API key %s (%s) with scope %s\n\n  %s\n\n", key.ID, key.Name, key.Scope, token)
			fmt.Fprintln(e.stdout, "This is the only time the key is shown: store it now. Revoke it with")
			fmt.Fprintf(e.stdout, "'discret apikey revoke %s'.\n", key.ID)
			return nil
		},
	}
}

func apikeyListCommand() *command {
	return &command{
		name:    "list",
		args:    "",
		summary: "list keys (ids, names, scopes; never the keys)",
		help: `List prints every API key: its id, name, scopes, creation time and, if
revoked, when.`,
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, keys, err := openKeys(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			list := keys.List()
			if len(list) == 0 {
				fmt.Fprintln(e.stdout, "no API keys; create one with 'discret apikey create --name NAME --scope SCOPE'")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tREVOKED")
			for _, k := range list {
				revoked := "-"
				if !k.Revoked.IsZero() {
					revoked = k.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scope, k.Created.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}
}

func apikeyRevokeCommand() *command {
	return &command{
		name:    "revoke",
		args:    "ID",
		summary: "revoke a key",
		help: `Revoke marks the key with the given ID (see 'discret apikey list') revoked:
a server started afterwards refuses it (a running server revokes a key at
once through its API: see 'discret apikey --help'). Revocation cannot be
undone. The whole key (dsk_ID_SECRET) is accepted too, for a leaked key
whose ID you do not have at hand; its secret is never printed.`,
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one key ID")
			}
			id := keyID(strings.TrimSpace(args[0]))
			d, keys, err := openKeys(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			k, err := keys.Revoke(ctx, id)
			if errors.Is(err, auth.ErrNotFound) {
				return fmt.Errorf("no API key with id %q (see 'discret apikey list')", id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked API key %s (%s) at %s\n", k.ID, k.Name, k.Revoked.Format(time.RFC3339))
			return nil
		},
	}
}

// openKeys opens the data directory and its API keys. The caller closes the
// data environment.
func openKeys(ctx context.Context, e *env, create bool) (*dataEnv, *auth.Keys, error) {
	d, err := openData(ctx, e, create)
	if err != nil {
		return nil, nil, err
	}
	keys, err := auth.Open(ctx, auth.Config{Store: d.db})
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, keys, nil
}

// keyID returns the ID of a whole API key (auth.Prefix, the ID, "_" and
// the secret), so that a pasted key is revoked without its secret being
// echoed, and anything else unchanged.
func keyID(arg string) string {
	rest, ok := strings.CutPrefix(arg, auth.Prefix)
	if !ok {
		return arg
	}
	id, _, _ := strings.Cut(rest, "_")
	return id
}
