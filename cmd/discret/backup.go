package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/retention"
)

// defaultBackupKeep is how many copies a backup directory keeps.
const defaultBackupKeep = 7

func backupCommand() *command {
	var keep int
	var list bool
	return &command{
		name:    "backup",
		args:    "DIR",
		summary: "copy the data directory into a backup directory, keeping the newest copies",
		help: `Backup copies the data directory into DIR/` + store.BackupPrefix + `TIME (TIME in UTC,
e.g. ` + store.BackupPrefix + `20261125T030000Z), then deletes the oldest copies in DIR
so that --keep remain. A copy is itself a data directory, encrypted under
the same master key: to restore one, stop the server and run 'discret
restore COPY', which keeps the erasures, consent changes and records made
since (restore --help). A data directory inside DIR is refused.

The copy is made from one consistent snapshot, with each event's expiry:
nothing erased or expired is copied, and the events in it expire when
they would have. It is written into a hidden directory in DIR and renamed
when complete, so an interrupted backup leaves no copy (the next backup
removes what it left). Each copy and each deletion is in the audit trail
('discret audit --action backup,backup.delete'). A running server makes
the same copies itself with --backup-dir (serve --help); this command
needs the server stopped.

A copy keeps customers who were erased or withdrew after it was made, and
events that expired since, until it is deleted: with a copy a day, --keep
is how many days that lasts. This command keeps --keep copies whatever
their age; a server also deletes copies --backup-keep × --backup-interval
old. --list prints the copies in DIR, and the partial directories of
backups in progress or interrupted, without opening the data directory.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.IntVar(&keep, "keep", defaultBackupKeep, "copies to keep in DIR, `N` ≥ 1: the oldest beyond N are deleted")
			fs.BoolVar(&list, "list", false, "list the copies in DIR, oldest first, and do nothing else")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("backup: want one backup directory DIR, got %d arguments", len(args))
			}
			dir := args[0]
			if list {
				return listBackups(e.stdout, dir)
			}
			if err := e.checkRanges(flagRange{"keep", atLeast(1)}); err != nil {
				return err
			}
			if err := checkBackupDir(e.global.data, dir, "backup "+dir); err != nil {
				return err
			}
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			start := time.Now()
			res, err := d.db.BackupInto(ctx, dir, store.BackupRotation{Keep: keep})
			if res.Copy.Path != "" {
				fmt.Fprintf(e.stdout, "backed up %s (%s) to %s in %.2f s\n", features.Plural(int(res.Stats.Entries), "record"),
					humanBytes(res.Stats.Bytes), res.Copy.Path, time.Since(start).Seconds())
			}
			for _, c := range res.Deleted {
				fmt.Fprintf(e.stdout, "deleted the copy of %s: %s\n", c.Time.Format(time.RFC3339), c.Path)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "to restore it: stop the server and run 'discret restore %s'\n", res.Copy.Path)
			return nil
		},
	}
}

// listBackups prints the copies in dir, oldest first, with their size,
// and the partial directories of backups in progress or interrupted.
func listBackups(w io.Writer, dir string) error {
	b, err := store.ReadBackupDir(dir)
	if err != nil {
		return err
	}
	copies, partials := b.Copies, b.Partials
	if len(copies) == 0 {
		fmt.Fprintf(w, "no copies in %s\n", dir)
	}
	for _, c := range copies {
		size, err := store.DirUsage(c.Path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s  %9s  %s\n", c.Time.Format(time.RFC3339), humanBytes(size), c.Path)
	}
	for _, p := range partials {
		size, err := store.DirUsage(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "partial      %9s  %s (not a copy: in progress, or left by an interrupted backup, which the next backup deletes)\n", humanBytes(size), p)
	}
	return nil
}

// checkBackupAge refuses a schedule whose copies outlive the shortest
// retention period of p: the oldest copy is about keep × interval old
// when it is deleted, and until then it holds the events it copied, some
// of which the live store has deleted as expired.
func checkBackupAge(p retention.Policy, keep int, interval time.Duration, now time.Time) error {
	age := time.Duration(keep) * interval
	for _, k := range privacy.EventKinds {
		period := p.Period(k)
		if age >= period.AddTo(now).Sub(now) {
			return usagef("--backup-keep %d × --backup-interval %v keeps copies up to %s, not less than the retention period of %s events (%s): the copies would hold events the store has deleted as expired; lower --backup-keep or --backup-interval",
				keep, interval, inDays(age), k, period)
		}
	}
	return nil
}

// checkBackupFlags checks the serve flags of the backups: --backup-dir
// outside the data directory, and copies that do not outlive a retention
// period (checkBackupAge).
func checkBackupFlags(e *env, f serveFlags, now time.Time) error {
	if f.backupDir == "" {
		if e.isSet("backup-interval") || e.isSet("backup-keep") {
			return usagef("--backup-interval and --backup-keep need --backup-dir: give the directory of the copies")
		}
		return nil
	}
	if err := checkBackupDir(e.global.data, f.backupDir, "--backup-dir "+f.backupDir); err != nil {
		return err
	}
	return checkBackupAge(e.conf.retention, f.backupKeep, f.backupInterval, now)
}

// inDays writes d in days when it is a whole number of them ("28d"),
// otherwise as time.Duration does.
func inDays(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// checkBackupDir returns store.CheckBackupDir's refusal of the backup
// directory dir as a usage error, after what (the argument or flag).
func checkBackupDir(data, dir, what string) error {
	if err := store.CheckBackupDir(data, dir); err != nil {
		return usagef("%s: %s", what, strings.TrimPrefix(err.Error(), "store: backup: "))
	}
	return nil
}
