package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/privacy/retention"
)

// TestBackupCommand: discret backup makes a copy that the other commands
// open with --data, keeps the newest --keep, lists them and audits them.
func TestBackupCommand(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(50, 20, 1000, 4)
	dir := filepath.Join(t.TempDir(), "backups")
	copyRE := regexp.MustCompile(`backed up \d+ records \([^)]+\) to (\S+) in `)

	before := c.mustRun("audit") // the copy's trail: the backup's entry comes after its snapshot
	out := c.mustRun("backup", dir)
	m := copyRE.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "to restore it: stop the server and run 'discret restore "+m[1]+"'") {
		t.Fatalf("backup printed %q, want the copy and how to restore it", out)
	}
	first := m[1]
	if !strings.HasPrefix(filepath.Base(first), store.BackupPrefix) || filepath.Dir(first) != dir {
		t.Errorf("copy %s, want %s%s… in %s", first, store.BackupPrefix, "TIME", dir)
	}
	// The copy is a data directory that opens with the same key.
	restored := *c
	restored.data = first
	if got := restored.mustRun("audit"); got != before || !strings.Contains(got, "consent.import") {
		t.Errorf("audit trail of the copy:\n%s\nwant the store's before the backup:\n%s", got, before)
	}
	// A customer with events, from the generated file.
	raw, err := os.ReadFile(filepath.Join(gen, synth.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for line := range strings.Lines(string(raw)) {
		var ev struct{ Customer string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if want = c.mustRun("export", ev.Customer); strings.Contains(want, `"item"`) {
			if got := restored.mustRun("export", ev.Customer); trimAudit(got) != trimAudit(want) {
				t.Errorf("export from the copy:\n%s\nwant the store's:\n%s", got, want)
			}
			break
		}
	}
	if !strings.Contains(want, `"item"`) {
		t.Fatal("no customer of the generated events has events stored")
	}

	out = c.mustRun("backup", "--keep", "1", dir) // named a second later if need be
	if !strings.Contains(out, "deleted the copy of ") || !strings.Contains(out, first) {
		t.Errorf("backup --keep 1 printed %q, want the deletion of %s", out, first)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Errorf("the older copy is still there (%v)", err)
	}
	partial := filepath.Join(dir, "."+store.BackupPrefix+"20260101T000000Z.partial-42") // a crash's
	if err := os.Mkdir(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	list := c.mustRun("backup", "--list", dir)
	if n := strings.Count(list, string(filepath.Separator)+store.BackupPrefix); n != 1 || !strings.Contains(list, "partial ") || !strings.Contains(list, partial+" (not a copy") {
		t.Errorf("backup --list printed:\n%s\nwant 1 copy and the partial copy %s", list, partial)
	}
	if out := c.mustRun("backup", "--list", filepath.Join(dir, "none")); !strings.Contains(out, "no copies") {
		t.Errorf("backup --list of an empty directory printed %q", out)
	}
	trail := c.mustRun("audit", "--action", "backup,backup.delete")
	if strings.Count(trail, "backup.delete") != 1 || strings.Count(trail, "backup ") < 2 {
		t.Errorf("audit trail of the backups:\n%s\nwant two copies and one deletion", trail)
	}

	for _, args := range [][]string{{"backup"}, {"backup", "a", "b"}, {"backup", "--keep", "0", dir}} {
		if code, _, _ := c.run(args...); code != exitUsage {
			t.Errorf("discret %v = exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errOut := c.run("backup", filepath.Join(c.data, "copies")); code != exitUsage || !strings.Contains(errOut, "inside the data directory") {
		t.Errorf("backup into the data directory = %d, %q; want refused", code, errOut)
	}
}

// TestServeBackups: a server with --backup-dir makes a copy at once when
// there is none and reports it on /metrics; the backup flags are checked
// before anything runs.
func TestServeBackups(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "backups")
	srv := s.startServer("--demo", "--backup-dir", dir, "--backup-keep", "3")
	deadline := time.Now().Add(30 * time.Second)
	var copies []store.BackupCopy
	for len(copies) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		copies, _ = store.BackupCopies(dir)
	}
	if len(copies) != 1 {
		t.Fatalf("copies after the server started: %v, want 1\n%s", copies, srv.errOut)
	}
	if code, body := get(t, "http://"+srv.httpAddr+"/metrics", ""); code != 200 || !strings.Contains(body, "discret_backup_copies 1") {
		t.Errorf("/metrics = %d, lacks discret_backup_copies 1", code)
	}
	if code := srv.stop(); code != exitOK {
		t.Errorf("serve = %d, want 0", code)
	}
	if !strings.Contains(srv.out.String(), "backing up to "+dir) || !strings.Contains(srv.errOut.String(), "backed up") {
		t.Errorf("the server did not say it backs up:\n%s\n%s", srv.out, srv.errOut)
	}

	for _, args := range [][]string{
		{"--backup-keep", "3"},
		{"--backup-dir", dir, "--backup-keep", "0"},
		{"--backup-dir", dir, "--backup-interval", "30s"},
		{"--backup-dir", dir, "--backup-interval", "0s"},
		{"--backup-dir", filepath.Join(s.data, "copies")},
		{"--backup-dir", dir, "--backup-interval", "720h", "--backup-keep", "14"},
	} {
		if code, _, errOut := s.run(ctx, serveCommand(), append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)...); code != exitUsage {
			t.Errorf("serve %v = %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
}

func TestCheckBackupAge(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	week := retention.Policy{View: retention.Period{Days: 7}}
	tests := []struct {
		name     string
		p        retention.Policy
		keep     int
		interval time.Duration
		ok       bool
	}{
		{"defaults", retention.Policy{}, 7, 24 * time.Hour, true},
		{"a year of daily copies, views kept 13 months", retention.Policy{}, 365, 24 * time.Hour, true},
		{"13 months of monthly copies", retention.Policy{}, 14, 30 * 24 * time.Hour, false},
		{"views kept a week, 6 daily copies", week, 6, 24 * time.Hour, true},
		{"views kept a week, 7 daily copies", week, 7, 24 * time.Hour, false},
	}
	for _, tt := range tests {
		err := checkBackupAge(tt.p, tt.keep, tt.interval, now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: checkBackupAge = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "view events") {
			t.Errorf("%s: %v, want the view events' period named", tt.name, err)
		}
	}
}

// trimAudit cuts an export at its audit trail, which the export itself
// extends.
func trimAudit(export string) string {
	before, _, _ := strings.Cut(export, `"audit"`)
	return before
}
