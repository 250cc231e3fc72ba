package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
)

func modelsCommand() *command {
	return &command{
		name:    "models",
		summary: "list, show and choose the stored model releases",
		help: `Models lists the model releases stored in the data directory, shows the model
card of one (hyper-parameters, privacy guarantee per component, randomness,
data window, coarse number of training customers), and chooses which one
is current, that is, served.`,
		sub: []*command{modelsListCommand(), modelsShowCommand(), modelsUseCommand()},
	}
}

func modelsListCommand() *command {
	return &command{
		name:    "list",
		args:    "",
		summary: "list the stored releases, oldest first",
		help:    `List prints one line per stored release, oldest first; * marks the current one.`,
		noArgs:  true,
		run: func(ctx context.Context, e *env, _ []string) error {
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			sums, err := release.List(ctx, d.db)
			if err != nil {
				return err
			}
			if len(sums) == 0 {
				fmt.Fprintln(e.stdout, "no model releases; run 'discret train'")
				return nil
			}
			printReleases(e.stdout, sums)
			return nil
		},
	}
}

func printReleases(w io.Writer, sums []release.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tVERSION\tCREATED\tε\tδ\tITEMS\tTRAINED\tFACTORS\tCUSTOMERS\tRNG\tSIZE")
	for _, s := range sums {
		c := s.Card
		mark := ""
		if s.Current {
			mark = "*"
		}
		eps, delta := "∞ (non-private)", "-"
		if p := c.Privacy; p != nil {
			eps, delta = fmt.Sprintf("%.4g", p.Epsilon), fmt.Sprintf("%g", p.Delta)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t≈%d\t%s\t%s\n", mark, c.Version, c.Created.Format(time.RFC3339), eps, delta,
			c.Items, c.Trained, c.Hyper.Factors, c.Customers.Value, c.RNG, humanBytes(s.Size))
	}
	tw.Flush()
}

func modelsShowCommand() *command {
	return &command{
		name:    "show",
		args:    "VERSION|current",
		summary: "print the model card of a release, as JSON",
		help: `Show prints the model card of release VERSION (or of the current release)
as JSON.

A deleted release (older than training.keep_releases, or erased with a
customer's data) is no longer stored, but its privacy parameters stay in
the ledger: 'discret privacy report' shows them, and show says so.

The privacy fields of the card (absent for a non-private release):
  epsilon, delta     the guarantee: (ε, δ)-DP for adding or removing one
                     customer with all their events; ε is ρ converted at δ
                     with the optimal Rényi conversion (the official figure,
                     the one the ledger and the cap use), at most target_epsilon
                     and exact: just below it (e.g. 0.9999999999997085 for 1
                     at the default δ), as
                     the calibration rounds towards privacy; the text outputs
                     ('models list', 'privacy report', 'train') round ε to
                     4 significant digits
  rho                the total zCDP cost ρ; releases compose by adding ρ
  mu, alpha          μ = √(2ρ), the Gaussian-DP parameter of the whole run,
                     and the Rényi order at which ε is attained
  epsilon_zcdp_simple, epsilon_exact_gaussian
                     for comparison only: the simple bound ρ + 2√(ρ ln 1/δ)
                     (looser) and the ε of an idealized continuous Gaussian
                     mechanism with the same μ (tighter, not a guarantee of
                     the discrete mechanism used)
  components         each released statistic: noise multiplier z = σ/Δ,
                     sensitivity Δ, σ, number of releases and its ρ; its
                     epsilon is that component alone at the same δ, so the
                     components' ε do not add up to the total (their ρ do)
In "hyperparameters", mu (when set) is another μ: the exponent that
favours rare items (raw weights ñ_j^(−μ)·c_ij). The ledger's "parameters"
(discret privacy report --json) repeat the hyper-parameters under the
mechanism's names: "steps" is "iterations", "rare_item_exponent" that μ.`,
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one VERSION (or current)")
			}
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			version := args[0]
			if version == "current" {
				if version, err = d.db.CurrentRelease(ctx); err != nil {
					return noRelease(ctx, d, err, version)
				}
			}
			m, err := d.db.Release(ctx, version)
			if err != nil {
				return noRelease(ctx, d, err, version)
			}
			card, err := release.ParseCard(m.Meta)
			if err != nil {
				return err
			}
			return writeJSON(e.stdout, card)
		},
	}
}

func modelsUseCommand() *command {
	var force bool
	return &command{
		name:    "use",
		args:    "[--force] VERSION",
		summary: "make a stored release the current one",
		help: `Use makes release VERSION the current release: the one servers load. The
release is loaded and validated first. The change is recorded in the audit
trail (model.use); making the current release current changes nothing and
is not recorded.

A release that 'discret train' stored without making it current because it
is too poor to serve (trained without a catalogue, fewer than 10 items
passed the DP selection: it would recommend the same few items to
everyone) is refused (exit status 1) unless --force is given. A
non-private release is made current with a warning: servers refuse it
unless started with --allow-non-private.`,
		flags: func(fs *flag.FlagSet, _ *env) {
			fs.BoolVar(&force, "force", false, "make a release current although it is too poor to serve (too few items selected from the data)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one VERSION")
			}
			d, err := openData(ctx, e, false)
			if err != nil {
				return err
			}
			defer d.Close()
			if _, err := d.db.Release(ctx, args[0]); err != nil {
				return noRelease(ctx, d, err, args[0])
			}
			switch cur, err := d.db.CurrentRelease(ctx); {
			case err == nil && cur == args[0]:
				fmt.Fprintf(e.stdout, "release %s is already current\n", args[0])
				return nil
			case err != nil && !errors.Is(err, store.ErrNoCurrentRelease):
				return err
			}
			// The manifest exists: a load error is a damaged release.
			r, err := release.Load(ctx, d.db, args[0])
			if err != nil {
				return err
			}
			// The rule of train, at its default minimum: the configuration
			// does not change it.
			poor := train.TooFewItems(&r.Card, 0)
			if poor != "" && !force {
				return fmt.Errorf("release %s not made current: %s; --force makes it current anyway", args[0], poor)
			}
			if err := d.db.SetCurrentRelease(ctx, args[0]); err != nil {
				return noRelease(ctx, d, err, args[0])
			}
			fmt.Fprintf(e.stdout, "release %s is now current\n", args[0])
			if poor != "" {
				fmt.Fprintf(e.stdout, "warning: this release would recommend the same few items to everyone: %s\n", poor)
			}
			if !r.Card.Private {
				fmt.Fprintln(e.stdout, "warning: this release is NOT differentially private (ε = ∞); servers refuse it unless explicitly allowed")
			}
			if r.Card.RNG != release.RNGCrypto {
				fmt.Fprintf(e.stdout, "warning: this release was trained with %s randomness; servers refuse it\n", r.Card.RNG)
			}
			return nil
		},
	}
}

// noRelease turns store errors about missing releases into messages that
// say which release and what to do. A release that the ledger knows — one
// deleted (pruned, or erased with a customer's data), or never stored
// because its run failed or was interrupted — is said to be so: the ledger
// keeps its privacy parameters.
func noRelease(ctx context.Context, d *dataEnv, err error, version string) error {
	switch {
	case errors.Is(err, store.ErrNoCurrentRelease):
		return errors.New("no current release; run 'discret train' or 'discret models use VERSION'")
	case !errors.Is(err, store.ErrReleaseNotFound):
		return err
	}
	entries, err := budget.Read(ctx, d.db)
	if err != nil {
		return fmt.Errorf("release %q not found; reading the privacy ledger: %w", version, err)
	}
	var en *budget.Entry // the version's latest effective entry
	for _, e := range slices.Backward(budget.Effective(entries)) {
		if e.Version == version {
			en = &e
			break
		}
	}
	if en == nil {
		return fmt.Errorf("release %q not found ('discret models list' shows the stored releases)", version)
	}
	switch entryStatus(*en, nil) {
	case statusInterrupted:
		return fmt.Errorf("release %q was never stored: its training run ended before recording its release; its charge stays in the ledger: discret privacy report", version)
	case statusFailed:
		return fmt.Errorf("release %q was never stored: its training run failed (%s); what it spent stays in the ledger: discret privacy report", version, en.Failed)
	}
	return fmt.Errorf("release %q was deleted; its privacy parameters stay in the ledger: discret privacy report", version)
}
