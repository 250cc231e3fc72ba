// Command discret is the single binary of Discret, a privacy-preserving
// recommendation engine: it ingests retail events under consent and retention
// rules, trains differentially private models and serves recommendations.
//
// Run `discret help` for the list of commands and `discret <command> --help`
// for the flags of one. main only parses flags into package configurations,
// sets up the signal context and calls the packages that do the work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/train"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	// help is the long description printed by `discret <name> --help`.
	help string
	// flags registers the command's own flags; nil for none.
	flags func(fs *flag.FlagSet, e *env)
	// noArgs refuses positional arguments before run is called.
	noArgs bool
	run    func(ctx context.Context, e *env, args []string) error
	// sub lists subcommands (consent set|get|import, ...), mutually exclusive with run.
	sub []*command
}

// env is what every command receives: the global settings and the streams.
type env struct {
	stdout, stderr io.Writer
	global         globalFlags
	getenv         func(string) string
	// set holds the flags the command line sets, by name (see isSet).
	set map[string]*flag.Flag
	// conf is the configuration file's content (--config), read and
	// checked once by runCommand before the command runs; zero without one.
	conf settings
	// logger, when set (by serve), receives the store's messages at its own
	// level; otherwise openData logs the store's warnings to stderr.
	logger *slog.Logger
}

// usageError marks a bad invocation (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	restrictUmask()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	e.global.defaults(getenv)
	cmds := commands()
	// Global flags may come before the command name.
	top := flag.NewFlagSet("discret", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	e.global.register(top)
	version := top.Bool("version", false, "print the version")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printTopHelp(stdout, cmds)
			return exitOK
		}
		fmt.Fprintf(stderr, "discret: %s\nRun 'discret help' for usage.\n", flagErrorText(top, err))
		return exitUsage
	}
	args = top.Args()
	if *version {
		return runCommand(ctx, e, "discret", versionCommand(), args)
	}
	if len(args) == 0 {
		printTopHelp(stderr, cmds)
		return exitUsage
	}
	name := args[0]
	if name == "help" {
		if len(args) > 1 {
			return printHelpOf(e, "discret", cmds, args[1:])
		}
		printTopHelp(stdout, cmds)
		return exitOK
	}
	c := find(cmds, name)
	if c == nil {
		fmt.Fprintf(stderr, "discret: unknown command %q\nRun 'discret help' for usage.\n", name)
		return exitUsage
	}
	return runCommand(ctx, e, "discret", c, args[1:])
}

func runCommand(ctx context.Context, e *env, prefix string, c *command, args []string) int {
	full := prefix + " " + c.name
	if len(c.sub) > 0 {
		if len(args) > 1 && args[0] == "help" {
			return printHelpOf(e, full, c.sub, args[1:])
		}
		if len(args) == 0 || args[0] == "--help" || args[0] == "-help" || args[0] == "-h" || args[0] == "help" {
			w := e.stdout
			code := exitOK
			if len(args) == 0 {
				w, code = e.stderr, exitUsage
			}
			printCommandHelp(w, prefix, c, e)
			return code
		}
		s := find(c.sub, args[0])
		if s == nil {
			fmt.Fprintf(e.stderr, "%s: unknown subcommand %q\nRun '%s --help' for usage.\n", full, args[0], full)
			return exitUsage
		}
		return runCommand(ctx, e, full, s, args[1:])
	}
	fs := newFlagSet(full, c, e)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, prefix, c, e)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %s\nRun '%s --help' for usage.\n", full, flagErrorText(fs, err), full)
		return exitUsage
	}
	e.set = map[string]*flag.Flag{}
	fs.Visit(func(f *flag.Flag) { e.set[f.Name] = f })
	if c.noArgs && len(pos) > 0 {
		err = usagef("unexpected argument %q", pos[0])
	} else if e.conf, err = loadSettings(e.global.config); err == nil {
		// Read for every command, also those that use none of it
		// (keygen, gen): a mistyped file is never ignored.
		// Every change the store audits names the command line and its
		// user, looked up only for a command that runs.
		err = c.run(store.WithAuditActor(ctx, cliActor()), e, pos)
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "%s: %s\nRun '%s --help' for usage.\n", full, errorText(full, err), full)
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// An interrupted private training run has spent budget: say so.
		var ce *train.ChargedError
		if errors.As(err, &ce) {
			fmt.Fprintf(e.stderr, "%s: interrupted; %s (see 'discret privacy report')\n", full, ce.Charge())
			return exitFailure
		}
		fmt.Fprintf(e.stderr, "%s: interrupted\n", full)
		return exitFailure
	default:
		fmt.Fprintf(e.stderr, "%s: %s\n", full, errorText(full, err))
		return exitFailure
	}
}

// errorText is err's message without a leading package prefix that repeats
// the command's own name ("discret train: train: no usable data" reads
// "discret train: no usable data"); the packages keep their prefixes, as Go
// errors do, for callers other than this command line.
func errorText(full string, err error) string {
	msg := err.Error()
	for _, w := range strings.Fields(full)[1:] {
		if rest, ok := strings.CutPrefix(msg, w+": "); ok {
			return rest
		}
	}
	return msg
}

func newFlagSet(name string, c *command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.global.register(fs)
	if c.flags != nil {
		c.flags(fs, e)
	}
	return fs
}

// flagErrorText words an error of fs.Parse as the other usage errors are:
// the flag as it is written, with two dashes, its value, and what it
// wants: `--factors "abc": want a whole number` for the package flag's
// `invalid value "abc" for flag -factors: parse error`, `unknown flag
// --bogus` for `flag provided but not defined: -bogus`, and `--data needs
// a value` for `flag needs an argument: -data`. Other errors are left as
// they are.
func flagErrorText(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + name + " needs a value"
	}
	m := flagValueError.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	value, name, why := m[1], m[2], m[3]
	var g flag.Getter
	if f := fs.Lookup(name); f != nil {
		g, _ = f.Value.(flag.Getter)
	}
	if g != nil && (why == "parse error" || why == "value out of range") {
		switch g.Get().(type) {
		case int, int64:
			why = "want a whole number"
		case uint, uint64:
			why = "want a whole number ≥ 0"
		case float64:
			why = "want a number"
		case bool:
			why = "want true or false"
		case time.Duration:
			why = "want a duration such as 90s, 15m or 24h"
		}
		if m[3] == "value out of range" {
			why += " (out of range)"
		}
	}
	return fmt.Sprintf("--%s %s: %s", name, value, why)
}

// flagValueError matches the package flag's error for a value that its
// flag refuses: `invalid value "abc" for flag -factors: parse error`, or
// `invalid boolean value "maybe" for -force: parse error`.
var flagValueError = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:\s]+): (.*)$`)

// parseInterleaved parses flags that may appear before, between or after the
// positional arguments ("discret export CUSTOMER --data DIR"). A "--" ends
// flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
		// flag.Parse consumed a "--" terminator itself if it saw one first.
	}
}

// printHelpOf prints the help of the command that path names among cmds,
// the commands of prefix ("discret help consent set" prints that of
// "discret consent set"), and returns the exit status.
func printHelpOf(e *env, prefix string, cmds []*command, path []string) int {
	for i, name := range path {
		c := find(cmds, name)
		switch {
		case c == nil && prefix == "discret":
			fmt.Fprintf(e.stderr, "discret: unknown command %q\nRun 'discret help' for usage.\n", name)
			return exitUsage
		case c == nil:
			fmt.Fprintf(e.stderr, "%s: unknown subcommand %q\nRun 'discret help %s' for usage.\n", prefix, name, strings.TrimPrefix(prefix, "discret "))
			return exitUsage
		case i == len(path)-1:
			printCommandHelp(e.stdout, prefix, c, e)
			return exitOK
		case len(c.sub) == 0:
			fmt.Fprintf(e.stderr, "%s %s: no subcommands (%q)\nRun 'discret help %s' for usage.\n", prefix, c.name, path[i+1], strings.TrimPrefix(prefix+" "+c.name, "discret "))
			return exitUsage
		}
		prefix, cmds = prefix+" "+c.name, c.sub
	}
	return exitOK // not reached: path is not empty
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printTopHelp(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `Discret — privacy-preserving recommendations for retail.

Usage:
  discret [global flags] <command> [flags] [arguments]
  discret --version

Commands:
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Global flags (accepted by every command):
  --data DIR    data directory (env DISCRET_DATA, default ./discret-data);
                only the commands that write data create one
  --key FILE    master key file, mode 0600 (env DISCRET_KEY, default ./discret.key)
  --config FILE configuration file, JSON (env DISCRET_CONFIG; see README "Configuration")
  --accept-config-change
                record privacy settings looser than those recorded in the data
                directory (longer retention, a consent default that grants,
                non-private runs allowed), or, given no --config, the defaults
                in place of other recorded ones; without it such a command stops

Run 'discret help <command> [<subcommand>]' or 'discret <command> --help'
for details.
Exit status: 0 success, 1 failure, 2 bad usage.
`)
}

func printCommandHelp(w io.Writer, prefix string, c *command, e *env) {
	full := prefix + " " + c.name
	if len(c.sub) > 0 {
		fmt.Fprintf(w, "Usage: %s <subcommand> [flags] [arguments]\n\n%s\n", full, strings.TrimSpace(c.help))
		fmt.Fprint(w, "\nSubcommands:\n")
		for _, s := range c.sub {
			fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun '%s <subcommand> --help' for details.\n", full)
		return
	}
	fmt.Fprintf(w, "%s\n\n%s\n", strings.TrimSpace("Usage: "+full+" [flags] "+c.args), strings.TrimSpace(c.help))
	fs := newFlagSet(full, c, &env{global: e.global, getenv: e.getenv})
	var own, glob []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobalFlag(f.Name) {
			glob = append(glob, f)
		} else {
			own = append(own, f)
		}
	})
	printFlags := func(title string, flags []*flag.Flag) {
		if len(flags) == 0 {
			return
		}
		sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, f := range flags {
			name, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if name != "" {
				line += " " + name
			}
			fmt.Fprintf(w, "%s\n    \t%s", line, usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		}
	}
	printFlags("Flags", own)
	printFlags("Global flags", glob)
}

// withoutPath returns the cause of a *fs.PathError about path, so that an
// error printed after the path says it once ("FILE: no such file or
// directory", not "FILE: open FILE: …" or "ingest: eventfile: open FILE:
// …"); any other error is returned as is.
func withoutPath(err error, path string) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == path {
		return pe.Err
	}
	return err
}
