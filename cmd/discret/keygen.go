package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"

	"github.com/discret-io/discret/privacy/secret"
)

func keygenCommand() *command {
	var out string
	return &command{
		name:    "keygen",
		args:    "[--out FILE]",
		summary: "create a master key file (32 random bytes as 64 hex digits, mode 0600)",
		help: `Keygen writes a new random 32-byte master secret to FILE with mode 0600,
as 64 hexadecimal digits and a newline (read back ignoring surrounding white
space). The pseudonymization (HMAC) key and the storage encryption key are
derived from it; it is never stored in the data directory. Keep it out of
backups of the data directory, and back it up on its own: whoever has both
can re-identify customers, and a copy of the directory opens only with it.
It refuses to overwrite an existing file, and to write inside the data
directory (--data).`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.StringVar(&out, "out", "", "write the key to `FILE` (default: the --key path)")
		},
		noArgs: true,
		run: func(_ context.Context, e *env, _ []string) error {
			out = cmp.Or(out, e.global.key)
			// Every other command would refuse the key there.
			if checkKeyOutsideData(out, e.global.data) != nil {
				return usagef("%s is inside the data directory %s: write the key outside it (--out FILE)", out, e.global.data)
			}
			m, err := secret.Generate()
			if err != nil {
				return err
			}
			if err := m.WriteFile(out); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote a new master key to %s (mode 0600)\n", out)
			return nil
		},
	}
}
