package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/serve"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/coupons"
	"github.com/discret-io/discret/serve/recommend"
	"github.com/discret-io/discret/serve/rpc"
	"github.com/prometheus/client_golang/prometheus"
)

// serveFlags are the flags of `discret serve`.
type serveFlags struct {
	grpcAddr, httpAddr string
	tlsCert, tlsKey    string
	rateLimit          float64
	tokenRateLimit     float64
	maxRequestBytes    int
	timeout            time.Duration
	shutdownTimeout    time.Duration
	logLevel           string
	logFormat          string
	demo               bool
	trainInterval      time.Duration
	compactInterval    time.Duration
	backupDir          string
	backupInterval     time.Duration
	backupKeep         int
	allowNonPrivate    bool
	acceptCapChange    bool
}

// Demo settings.
const (
	// demoKeyFile, in the data directory, holds the demo API key (mode 0600).
	demoKeyFile = "demo-api-key"
	// demoKeyName names the demo API key.
	demoKeyName = "demo"
	// demoCustomer is the customer the demo creates with a known history,
	// so that the printed commands return personalized answers.
	demoCustomer = "demo@example.com"
	// gcInterval is how often the store's maintenance runs while serving.
	gcInterval = 10 * time.Minute
	// defaultCompactInterval is how often a server compacts the store, so
	// that erased and expired data leaves the disk within that time.
	defaultCompactInterval = 24 * time.Hour
	// defaultBackupInterval is how often a server with --backup-dir
	// copies the store.
	defaultBackupInterval = 24 * time.Hour
	// modelPollInterval is how often the server checks that it serves the
	// current release (a release made current by TrainModel is swapped in
	// at once; this catches any other change).
	modelPollInterval = 30 * time.Second
)

func serveCommand() *command {
	var f serveFlags
	return &command{
		name:    "serve",
		args:    "[--demo]",
		summary: "serve the gRPC and REST API",
		help: `Serve answers the Discret API over gRPC (--grpc-addr) and REST/JSON
(--http-addr) until SIGINT or SIGTERM, then lets in-flight requests finish
(within --shutdown-timeout) and closes the data directory. SIGHUP reloads
the --tls-cert and --tls-key files (a renewed certificate, for the
connections made from then on); files that are not a valid pair are
logged and the certificate served stays.

It serves the current release (refusing one trained without differential
privacy unless --allow-non-private, and always one made with test-seeded
randomness), swaps in new releases without dropping requests, and trains new
ones in the process: POST /v1/models:train (scope admin), or every
--train-interval. While it runs, it holds the data directory: 'discret
train' and the other commands that open it refuse to run until it stops.
It maintains the store meanwhile: it finishes interrupted erasures, deletes
events past the retention period in force, then compacts the store
--compact-interval (24h) after the last compaction, restarts included, so
that the bytes of erased and expired data leave the disk within that time,
as 'discret compact' does. Writes wait while a compaction flushes the
memtables (well under a second); a stop during a compaction waits for it.
With --backup-dir, it copies the store into that directory every
--backup-interval (24h) after the newest copy, restarts included, and
keeps the newest --backup-keep (7) copies, as 'discret backup' does, none
older than --backup-keep × --backup-interval, even when backups fail; a
stop during a backup cancels it, leaving no copy.

Every request needs an API key ('discret apikey create'), kept on the
retailer's servers. A customer's own device (an in-store app, a browser)
sends a short-lived customer token instead, which the back end mints for
the customer it has authenticated (POST /v1/customers/{customer}/tokens,
scope recommend): it gets that customer's recommendations and store
entries only, and similar and popular items, and can revoke itself
(POST /v1/tokens:revoke, as can the key that minted it). The HTTP listener
also serves /healthz, /readyz (ready once a model is loaded), /metrics
(Prometheus: requests, events, training runs, the privacy budget spent and
its cap, the release served, disk space; README "API") and /openapi.json,
without a key. The gRPC listener serves the
health service and reflection (for grpcurl).

The flags are checked, and the listeners opened, before anything else: a
malformed address, the same address for both listeners, or --tls-cert and
--tls-key that are not both given, readable and a certificate chain with
its private key are usage errors (exit 2), and an address in use a failure
(exit 1), before the data directory is opened or --demo writes anything.

--demo sets everything up first: a master key and a data directory if absent,
a synthetic dataset (ingested under the consent rules) with its catalogue and
a few coupons, a differentially private model (ε = 1), a demo customer
(` + demoCustomer + `) and a demo API key with every scope, written to
DATA/` + demoKeyFile + ` (mode 0600). It prints commands to try. The demo's
data (dataset, catalogue, coupons, model, demo customer) goes only into a
new data directory, or one whose set-up 'discret demo' began
(DATA/` + demoPendingFile + `): later runs reuse what it holds, so a
customer erased meanwhile ('discret forget', the API) stays erased, and a
data directory of real data gets only the demo key.`,
		flags: func(fs *flag.FlagSet, e *env) {
			fs.StringVar(&f.grpcAddr, "grpc-addr", firstNonEmpty(e.getenv("DISCRET_GRPC_ADDR"), serve.DefaultGRPCAddr), "gRPC listen address `ADDR` (env DISCRET_GRPC_ADDR)")
			fs.StringVar(&f.httpAddr, "http-addr", firstNonEmpty(e.getenv("DISCRET_HTTP_ADDR"), serve.DefaultHTTPAddr), "REST listen address `ADDR` (env DISCRET_HTTP_ADDR)")
			fs.StringVar(&f.tlsCert, "tls-cert", e.getenv("DISCRET_TLS_CERT"), "TLS certificate chain, PEM `FILE`, for both listeners (env DISCRET_TLS_CERT)")
			fs.StringVar(&f.tlsKey, "tls-key", e.getenv("DISCRET_TLS_KEY"), "TLS private key, PEM `FILE` (env DISCRET_TLS_KEY)")
			fs.Float64Var(&f.rateLimit, "rate-limit", serve.DefaultRateLimit, "requests per second per API key, `N` (bursts of twice that; -1: no limit)")
			fs.Float64Var(&f.tokenRateLimit, "token-rate-limit", serve.DefaultTokenRateLimit, "requests per second per customer token, `N`, counted apart from its key's (bursts of twice that; -1: no limit)")
			fs.IntVar(&f.maxRequestBytes, "max-request-bytes", serve.DefaultMaxRequestBytes, "largest request, `BYTES`")
			fs.DurationVar(&f.timeout, "timeout", serve.DefaultTimeout, "deadline of requests that set none, `DURATION`")
			fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", serve.DefaultShutdownTimeout, "how long in-flight requests may take to finish at shutdown, `DURATION`; a training run still going then, requested or scheduled, is cancelled and charged its ε")
			fs.StringVar(&f.logLevel, "log-level", "info", "request log `LEVEL`: debug, info, warn or error")
			fs.StringVar(&f.logFormat, "log-format", firstNonEmpty(e.getenv("DISCRET_LOG_FORMAT"), "text"), "log `FORMAT` on standard error: text (key=value) or json, one object per line, for a log pipeline (env DISCRET_LOG_FORMAT)")
			fs.BoolVar(&f.demo, "demo", false, "set up a synthetic dataset, a model and a demo key first")
			fs.DurationVar(&f.trainInterval, "train-interval", 0, "retrain every `DURATION` (e.g. 24h; at least 1m; 0: only on POST /v1/models:train); each run is charged to the privacy budget")
			fs.DurationVar(&f.compactInterval, "compact-interval", defaultCompactInterval, "compact the store `DURATION` after the last compaction (at least 1m), so that erased and expired data leaves the disk within that time (0: only on 'discret compact', with the server stopped)")
			fs.StringVar(&f.backupDir, "backup-dir", e.getenv("DISCRET_BACKUP_DIR"), "copy the store into `DIR` every --backup-interval (a directory outside the data directory, ideally on another disk; env DISCRET_BACKUP_DIR; empty: no backups)")
			fs.DurationVar(&f.backupInterval, "backup-interval", defaultBackupInterval, "with --backup-dir, copy the store `DURATION` after the newest copy (at least 1m)")
			fs.IntVar(&f.backupKeep, "backup-keep", defaultBackupKeep, "with --backup-dir, keep the newest `N` copies (N ≥ 1); N × --backup-interval must be shorter than every retention period")
			fs.BoolVar(&f.allowNonPrivate, "allow-non-private", false, "serve and train models without differential privacy (ε = ∞), for evaluation only")
			fs.BoolVar(&f.acceptCapChange, "accept-cap-change", false, "train under a privacy cap looser than the one recorded with the latest release (see 'discret train --help'); without it such runs are refused")
		},
		noArgs: true,
		run: func(ctx context.Context, e *env, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
				return usagef("--log-level: want debug, info, warn or error")
			}
			if f.logFormat != "text" && f.logFormat != "json" {
				return usagef("--log-format %q: want text or json", f.logFormat)
			}
			if err := e.checkRanges(
				flagRange{"rate-limit", rateRange}, flagRange{"token-rate-limit", rateRange},
				flagRange{"max-request-bytes", atLeast(1)}, flagRange{"timeout", positiveTime},
				flagRange{"shutdown-timeout", positiveTime}, flagRange{"train-interval", intervalRange},
				flagRange{"compact-interval", intervalRange},
				flagRange{"backup-interval", backupIntervalRange}, flagRange{"backup-keep", atLeast(1)},
			); err != nil {
				return err
			}
			if err := checkBackupFlags(e, f, time.Now()); err != nil {
				return err
			}
			// Before anything is opened or written.
			if err := checkListenFlags(f); err != nil {
				return err
			}
			if err := checkTLSFlags(f.tlsCert, f.tlsKey); err != nil {
				return err
			}
			return runServe(ctx, e, f, level)
		},
	}
}

// checkListenFlags checks the syntax of --grpc-addr and --http-addr
// (HOST:PORT, a port number or service name; the host is resolved when
// listening) and that they differ.
func checkListenFlags(f serveFlags) error {
	for _, a := range []struct{ name, addr string }{{"grpc-addr", f.grpcAddr}, {"http-addr", f.httpAddr}} {
		_, port, err := net.SplitHostPort(a.addr)
		if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
			return usagef("--%s %q: want HOST:PORT, e.g. 127.0.0.1:8080 (%s)", a.name, a.addr, ae.Err)
		} else if err != nil {
			return usagef("--%s %q: want HOST:PORT, e.g. 127.0.0.1:8080", a.name, a.addr)
		}
		if _, err := net.LookupPort("tcp", port); err != nil {
			return usagef("--%s %q: port %q: want a number from 0 to 65535", a.name, a.addr, port)
		}
	}
	if _, port, _ := net.SplitHostPort(f.grpcAddr); f.grpcAddr == f.httpAddr && port != "0" {
		return usagef("--grpc-addr and --http-addr are both %s: each listener needs its own address", f.grpcAddr)
	}
	return nil
}

// checkTLSFlags checks that --tls-cert and --tls-key come together, can be
// read, and hold a certificate chain and its private key.
func checkTLSFlags(cert, key string) error {
	switch {
	case cert == "" && key == "":
		return nil
	case cert == "" || key == "":
		return usagef("--tls-cert and --tls-key go together: give both (TLS on both listeners) or neither")
	}
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		return usagef("--tls-cert %s: %v", cert, withoutPath(err, cert))
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		return usagef("--tls-key %s: %v", key, withoutPath(err, key))
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return usagef("--tls-cert %s and --tls-key %s: %v", cert, key, err)
	}
	return nil
}

func runServe(ctx context.Context, e *env, f serveFlags, level slog.Level) error {
	// The listeners first, so that an address in use is refused before
	// the data directory is opened (or the demo's data written). Serve
	// closes them; on an earlier return they are closed here.
	gl, hl, err := serve.Listen(f.grpcAddr, f.httpAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: another process (a discret serve already running?) listens there; stop it, or choose other addresses (--grpc-addr, --http-addr)", err)
	}
	if err != nil {
		return err
	}
	serving := false
	defer func() {
		if !serving {
			gl.Close()
			hl.Close()
		}
	}()
	// The store logs through the server's logger: its periodic retention
	// deletions (INFO) belong in the server log.
	var handler slog.Handler = slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})
	if f.logFormat == "json" {
		handler = slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level})
	}
	logger := slog.New(handler)
	e.logger = logger
	var d *dataEnv
	seeding := false
	if f.demo {
		d, seeding, err = setupDemo(ctx, e, demoData)
	} else {
		d, err = openData(ctx, e, false)
	}
	if err != nil {
		return err
	}
	defer d.Close()

	keys, err := auth.Open(ctx, auth.Config{Store: d.db, TokenKey: d.tokenKey, Pseudonyms: d.pseudonyms})
	if err != nil {
		return err
	}
	in, err := ingest.New(ingest.Config{Pseudonyms: d.pseudonyms, Consent: d.settings.consent, Retention: d.settings.retention}, d.db)
	if err != nil {
		return err
	}
	var demoKey, demoItem string
	if f.demo {
		// A model (charged to the ledger) and coupons only for a demo
		// being set up, as its data; any data directory gets the key.
		if seeding {
			if err := ensureDemoModel(ctx, e, d); err != nil {
				return err
			}
			if err := ensureDemoCoupons(ctx, e, d); err != nil {
				return err
			}
		}
		if demoItem, err = ensureDemoCustomer(ctx, e, d, in, seeding); err != nil {
			return err
		}
		if seeding {
			if err := finishDemo(e); err != nil {
				return err
			}
		}
		if demoKey, err = ensureDemoKey(ctx, e, keys); err != nil {
			return err
		}
	}
	if len(keys.List()) == 0 {
		logger.Warn("there are no API keys, so every request will be refused; stop the server and run 'discret apikey create'")
	}
	for _, dir := range replacedDirs(e.global.data) {
		logger.Warn("a data directory that 'discret restore' replaced is still there: it holds customer data that no erasure or withdrawal reaches; check the restore, then delete it", "dir", dir)
	}

	eng, err := recommend.New(recommend.Config{
		Pseudonyms:      d.pseudonyms,
		Customers:       d.db,
		Catalogue:       d.db,
		Releases:        d.db,
		ConsentDefaults: d.settings.consent,
		Retention:       d.settings.retention,
		AllowNonPrivate: f.allowNonPrivate,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	if err := eng.LoadCatalogue(ctx); err != nil {
		return err
	}
	switch _, err := eng.Refresh(ctx); {
	case errors.Is(err, recommend.ErrRefused):
		logger.Warn("the server is not ready until a servable release is trained (POST /v1/models:train)", "err", err)
	case err != nil:
		return err
	case !eng.Ready():
		logger.Warn("no model yet: recommendations are not served (/readyz is 503) until one is trained (POST /v1/models:train)")
	}
	entries, err := coupons.New(coupons.Config{
		Pseudonyms:      d.pseudonyms,
		Customers:       d.db,
		Visits:          in,
		Pushes:          d.db,
		Coupons:         d.db,
		Model:           eng,
		ConsentDefaults: d.settings.consent,
	})
	if err != nil {
		return err
	}
	if err := entries.LoadCoupons(ctx); err != nil {
		return err
	}
	base := baseTrainConfig(d)
	base.AcceptCapChange = f.acceptCapChange
	// Leave a core to serving while training in the background.
	base.ALS.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	if path := d.settings.training.catalogue; path != "" {
		if base.Catalogue, base.Stores, err = readCatalogue(path); err != nil {
			return err
		}
	}
	trainer, err := recommend.NewTrainer(recommend.TrainerConfig{Store: d.db, Engine: eng, Base: base, Logger: logger})
	if err != nil {
		return err
	}

	api, err := rpc.New(rpc.Config{
		Pseudonyms:      d.pseudonyms,
		Store:           d.db,
		Events:          in,
		ConsentDefaults: d.settings.consent,
		Retention:       d.settings.retention,
		AuditRetention:  d.settings.auditRetention,
		Cache:           eng,
		Releases:        eng,
		Recommender:     eng,
		Entries:         entries,
		Catalogue:       catalogue{items: eng, coupons: entries},
		Models:          trainer,
		Keys:            keys,
		Tokens:          keys,
	})
	if err != nil {
		return err
	}
	// /metrics: the release served, the store's disk, training runs, the
	// privacy budget and the backups.
	collectors := []prometheus.Collector{serve.ModelMetrics(eng), serve.StoreMetrics(d.db), trainer}
	if f.backupDir != "" {
		// Refuse a directory that cannot hold copies now, not at the
		// first backup.
		if err := os.MkdirAll(f.backupDir, 0o700); err != nil {
			return fmt.Errorf("--backup-dir: %w", err)
		}
		if _, err := store.BackupCopies(f.backupDir); err != nil {
			return fmt.Errorf("--backup-dir: %w", err)
		}
		collectors = append(collectors, serve.BackupMetrics(f.backupDir))
	}
	srv, err := serve.New(serve.Config{
		API:             api,
		Keys:            keys,
		Ready:           eng.Ready,
		Collectors:      collectors,
		TLSCertFile:     f.tlsCert,
		TLSKeyFile:      f.tlsKey,
		Logger:          logger,
		MaxRequestBytes: f.maxRequestBytes,
		DefaultTimeout:  f.timeout,
		RateLimit:       f.rateLimit,
		TokenRateLimit:  f.tokenRateLimit,
		ShutdownTimeout: f.shutdownTimeout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "serving gRPC on %s and REST on %s (data %s); Ctrl-C to stop\n", gl.Addr(), hl.Addr(), e.global.data)
	if f.demo {
		printDemoCommands(e.stdout, demoKey, demoItem, gl.Addr(), hl.Addr(), f.tlsCert != "")
	}

	// The background loops stop before the store closes.
	bgCtx, stopBackground := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.db.RunGC(bgCtx, gcInterval) })
	wg.Go(func() { eng.Watch(bgCtx, modelPollInterval) })
	if f.compactInterval > 0 {
		wg.Go(func() {
			if err := d.db.CompactEvery(bgCtx, f.compactInterval); err != nil {
				logger.Error("scheduled compaction is off", "err", err)
			}
		})
	}
	if f.backupDir != "" {
		fmt.Fprintf(e.stdout, "backing up to %s every %v, keeping the newest %d copies\n", f.backupDir, f.backupInterval, f.backupKeep)
		backups := store.WithAuditActor(bgCtx, store.AuditActor{Via: store.ViaSchedule})
		wg.Go(func() {
			if err := d.db.BackupEvery(backups, f.backupDir, f.backupInterval, f.backupKeep); err != nil {
				logger.Error("scheduled backup is off", "err", err)
			}
		})
	}
	var finishTraining func()
	if f.trainInterval > 0 {
		fmt.Fprintf(e.stdout, "retraining every %v (each run is charged to the privacy budget)\n", f.trainInterval)
		finishTraining = scheduleTraining(ctx, &wg, trainer, f.trainInterval, f.shutdownTimeout, logger)
	}
	// SIGHUP, whose default would kill the server, reloads the TLS files:
	// a renewed certificate without a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	wg.Go(func() { reloadOnHangup(bgCtx, hup, srv, logger) })
	// A training run that outlived its request (recommend.Trainer.Train)
	// gets a scheduled run's grace: --shutdown-timeout from the signal.
	requested, endRequested := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequested()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(f.shutdownTimeout, endRequested) })
	serving = true
	err = srv.Serve(ctx, gl, hl)
	if stopGrace() {
		endRequested() // serving failed: no grace
	}
	if finishTraining != nil {
		finishTraining()
	}
	trainer.Close(requested)
	stopBackground()
	wg.Wait()
	if err == nil {
		fmt.Fprintln(e.stdout, "stopped; closing the data directory")
	}
	return err
}

// scheduledTrainer is what scheduleTraining runs (*recommend.Trainer).
type scheduledTrainer interface {
	Every(ctx context.Context, interval time.Duration, stop <-chan struct{})
	Running() bool
}

// scheduleTraining runs t.Every on wg until ctx, the server's signal
// context, is done, and returns what to call once the server has stopped
// serving. A scheduled run in progress at the signal gets what a training
// request gets: grace (--shutdown-timeout) from the signal to finish, not
// a cancellation at once, which would charge its ε for nothing; no run
// starts after the signal. If serving stopped without a signal (an error),
// the returned function cancels the run at once.
func scheduleTraining(ctx context.Context, wg *sync.WaitGroup, t scheduledTrainer, interval, grace time.Duration, logger *slog.Logger) func() {
	runs, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	// Its releases are audited as the schedule's, not the operator's.
	schedule := store.WithAuditActor(runs, store.AuditActor{Via: store.ViaSchedule})
	wg.Go(func() {
		defer stopRuns()
		t.Every(schedule, interval, ctx.Done())
	})
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(grace, stopRuns) })
	return func() {
		if stopGrace() {
			stopRuns() // serving failed: no grace
			return
		}
		if t.Running() {
			logger.Info("waiting for the training run in progress to finish", "at_most", grace.String()+" from the signal")
		}
	}
}

// tlsReloader is the server's certificate reload (*serve.Server).
type tlsReloader interface {
	ReloadTLS() (time.Time, error)
}

// reloadOnHangup reloads the server's TLS files at each signal on hup
// until ctx is done, logging the outcome; without TLS it logs that there
// is nothing to reload. A failed reload keeps the certificate served.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, srv tlsReloader, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		switch exp, err := srv.ReloadTLS(); {
		case errors.Is(err, serve.ErrNoTLS):
			logger.Info("SIGHUP ignored: the server has no TLS files to reload")
		case err != nil:
			logger.Error("SIGHUP: TLS files not reloaded", "err", err)
		default:
			logger.Info("SIGHUP: TLS certificate reloaded", "not_after", exp.UTC().Format(time.RFC3339))
		}
	}
}

// demoEpsilon is the privacy budget of the demo's model.
const demoEpsilon = 1

// demoData describes the demo's synthetic dataset: the defaults of `discret
// demo` (2,000 customers, 1,000 items, 100,000 events).
var demoData = synth.Config{Seed: 1}

// ensureDemoModel trains a differentially private model (ε = 1) on the
// stored catalogue unless a release is current already.
func ensureDemoModel(ctx context.Context, e *env, d *dataEnv) error {
	v, err := d.db.CurrentRelease(ctx)
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "model %s is current; reusing it\n", v)
		return nil
	case !errors.Is(err, store.ErrNoCurrentRelease):
		return err
	}
	cfg := baseTrainConfig(d)
	cfg.Epsilon = demoEpsilon
	// The catalogue is public, so the model gets a vector for every item of
	// it rather than for a DP selection from the data.
	items, err := d.db.Items(ctx)
	if err != nil {
		return err
	}
	cfg.Catalogue, cfg.Stores = recommend.Universe(items)
	cfg.Progress = trainProgress(e)
	fmt.Fprintf(e.stdout, "training a differentially private model (ε = %d) on the catalogue of %d items…\n", demoEpsilon, len(items))
	rep, err := train.Run(ctx, d.db, cfg)
	if err != nil {
		return fmt.Errorf("demo model: %w", err)
	}
	printTrainReport(e.stdout, rep)
	return nil
}

// Demo coupons: demoCouponsPerStore coupons in each store, on the items
// available there that the current release ranks highest (trained items
// first, by DP popularity), valid from a day ago for demoCouponDays.
const (
	demoCouponsPerStore = 4
	demoCouponDays      = 90
)

var demoCouponValues = []string{"-10%", "-15%", "-20%", "2 EUR off"}

// ensureDemoCoupons stores a few coupons per store unless coupons exist.
func ensureDemoCoupons(ctx context.Context, e *env, d *dataEnv) error {
	existing, err := d.db.Coupons(ctx)
	if err != nil || len(existing) > 0 {
		return err
	}
	r, err := release.LoadCurrent(ctx, d.db)
	if err != nil {
		return fmt.Errorf("demo coupons: %w", err)
	}
	items, err := d.db.Items(ctx)
	if err != nil {
		return err
	}
	stocks := make(map[string][]string) // item → stores
	for _, it := range items {
		if it.Active {
			stocks[it.ID] = it.Stores
		}
	}
	order := make([]int, len(r.Items))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if va, vb := r.HasVector(a), r.HasVector(b); va != vb {
			if va {
				return -1
			}
			return 1
		}
		return cmp.Compare(r.Popular[b], r.Popular[a])
	})
	now := time.Now().UTC().Truncate(time.Second)
	perStore := map[string]int{}
	var cs []features.Coupon
	for _, j := range order {
		for _, st := range stocks[r.Items[j]] {
			n := perStore[st]
			if n == demoCouponsPerStore {
				continue
			}
			perStore[st] = n + 1
			cs = append(cs, features.Coupon{
				ID: fmt.Sprintf("demo-%s-%d", st, n+1), Item: r.Items[j], Stores: []string{st}, Value: demoCouponValues[n%len(demoCouponValues)],
				ValidFrom: now.Add(-24 * time.Hour), ValidUntil: now.Add(demoCouponDays * 24 * time.Hour), Active: true,
			})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	if err := d.db.PutCoupons(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "stored %d demo coupons in %d stores\n", len(cs), len(perStore))
	return nil
}

// catalogue serves the admin catalogue RPCs: items go to the
// recommendation engine, coupons to the coupon engine (each stores them
// and applies them at once).
type catalogue struct {
	items   *recommend.Engine
	coupons *coupons.Engine
}

func (c catalogue) UpsertItem(ctx context.Context, it features.Item) error {
	return c.items.UpsertItem(ctx, it)
}

func (c catalogue) UpsertCoupon(ctx context.Context, cp features.Coupon) error {
	return c.coupons.UpsertCoupon(ctx, cp)
}

var _ rpc.Catalogue = catalogue{}

// ensureDemoKey returns the demo API key: the one in DATA/demo-api-key if it
// still authenticates, otherwise a new key with every scope, written there
// with mode 0600.
func ensureDemoKey(ctx context.Context, e *env, keys *auth.Keys) (string, error) {
	path := filepath.Join(e.global.data, demoKeyFile)
	if raw, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(raw))
		if _, err := keys.Authenticate(token); err == nil {
			return token, nil
		}
		fmt.Fprintf(e.stdout, "%s holds no valid key any more; creating a new demo key\n", path)
		if err := os.Remove(path); err != nil {
			return "", err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	token, key, err := keys.Create(ctx, demoKeyName, auth.All)
	if taken := (*auth.NameTakenError)(nil); errors.As(err, &taken) {
		// Its key was in the file, now gone or invalid; it may also be
		// a key someone else named so: not ours to revoke.
		return "", fmt.Errorf("API key %s is named %q but %s does not hold it: revoke it ('discret apikey revoke %s') and run again", taken.Holder.ID, demoKeyName, path, taken.Holder.ID)
	}
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.WriteString(f, token+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "created demo API key %s (scope all), written to %s (mode 0600)\n", key.ID, path)
	return token, nil
}

// demoPurchases is the number of purchases the demo customer starts with.
const demoPurchases = 4

// trainedByPopularity returns the current release and the rows of its
// items with a vector, the most popular first.
func trainedByPopularity(ctx context.Context, d *dataEnv) (*release.Release, []int, error) {
	r, err := release.LoadCurrent(ctx, d.db)
	if err != nil {
		return nil, nil, err
	}
	var trained []int
	for j := range r.Items {
		if r.HasVector(j) {
			trained = append(trained, j)
		}
	}
	slices.SortStableFunc(trained, func(a, b int) int { return cmp.Compare(r.Popular[b], r.Popular[a]) })
	return r, trained, nil
}

// popularTrainedItem returns the most popular item with a vector in the
// current release, for the demo's similar-items example; "" without one.
func popularTrainedItem(ctx context.Context, d *dataEnv) (string, error) {
	r, trained, err := trainedByPopularity(ctx, d)
	switch {
	case errors.Is(err, store.ErrNoCurrentRelease), err == nil && len(trained) == 0:
		return "", nil
	case err != nil:
		return "", fmt.Errorf("demo: %w", err)
	}
	return r.Items[trained[0]], nil
}

// ensureDemoCustomer returns an item of the demo customer's history (the
// release's most popular trained item without one). While
// the demo is set up (seeding), it first gives them consent and a few
// purchases if the store knows nothing about them; otherwise a customer
// the store knows nothing about (erased, or a data directory that is not
// the demo's) is not created again, and it says so. The purchases are the
// most popular trained items of the most popular trained item's category,
// so that recommendations are personalized and explained.
func ensureDemoCustomer(ctx context.Context, e *env, d *dataEnv, in *ingest.Ingester, seeding bool) (string, error) {
	c, err := privacy.ParseCustomerID(demoCustomer)
	if err != nil {
		return "", err
	}
	p := d.pseudonyms.Pseudonymize(c)
	rec, err := d.db.Consent(ctx, p)
	if err != nil {
		return "", err
	}
	if len(rec.Changes) == 0 && !seeding {
		fmt.Fprintf(e.stdout, "demo customer %s: nothing held (erased, or not a demo data directory); not created again, so their recommendations are not personalized\n", demoCustomer)
		return popularTrainedItem(ctx, d)
	}
	if len(rec.Changes) > 0 {
		events, err := d.db.CustomerEvents(ctx, p)
		if err != nil {
			return "", err
		}
		for _, ev := range events {
			if ev.Item != "" {
				return ev.Item, nil
			}
		}
		return popularTrainedItem(ctx, d)
	}
	r, trained, err := trainedByPopularity(ctx, d)
	if err != nil {
		return "", fmt.Errorf("demo customer: %w", err)
	}
	items, err := d.db.Items(ctx)
	if err != nil {
		return "", err
	}
	category := make(map[string]string, len(items))
	for _, it := range items {
		category[it.ID] = it.Category
	}
	// The category first, then the most popular others.
	var picks []string
	for _, sameCategory := range []bool{true, false} {
		for _, j := range trained {
			it := r.Items[j]
			if len(picks) < demoPurchases && (category[it] == category[r.Items[trained[0]]]) == sameCategory {
				picks = append(picks, it)
			}
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	changes := []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: now.Add(-time.Hour), Source: "demo"},
		{Purpose: privacy.InStore, Granted: true, Time: now.Add(-time.Hour), Source: "demo"},
	}
	if _, err := d.db.UpdateConsent(ctx, p, changes, d.settings.consent); err != nil {
		return "", err
	}
	var events []features.RawEvent
	for i, item := range picks {
		events = append(events, features.RawEvent{Customer: c, Item: item, Kind: privacy.Purchase, Time: now.Add(-time.Duration(30-i) * time.Minute), Quantity: 1})
	}
	counts, err := in.Write(ctx, events)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(e.stdout, "demo customer %s: consent granted, %d purchases stored (%s)\n", demoCustomer, counts.Stored, strings.Join(picks, ", "))
	if len(picks) == 0 {
		return "", nil
	}
	return picks[0], nil
}

// printDemoCommands prints ready-to-paste commands against the demo server.
func printDemoCommands(w io.Writer, key, item string, grpcAddr, httpAddr net.Addr, tls bool) {
	// With TLS, the commands skip verification (-k, -insecure) as the
	// certificate may name another host than the address: a demo only.
	scheme, plaintext, curl := "http", "-plaintext ", "curl -s"
	if tls {
		scheme, plaintext, curl = "https", "-insecure ", "curl -s -k"
	}
	base := scheme + "://" + httpAddr.String()
	customer := url.PathEscape(demoCustomer)
	auth := `-H "Authorization: Bearer ` + key + `"`
	fmt.Fprintf(w, `
Demo customer: %[1]s
Demo API key (scope all): %[2]s

Try:
  %[9]s %[3]s '%[4]s/v1/customers/%[5]s/recommendations?limit=5'
  %[9]s %[3]s '%[4]s/v1/customers/%[5]s/recommendations?limit=5&store=store-01'
  %[9]s %[3]s -X POST '%[4]s/v1/customers:recommend' -d '{"customer":"%[1]s","limit":5}'   # the id in no URL
  %[9]s %[3]s '%[4]s/v1/items/%[8]s/similar?limit=5'
  %[9]s %[3]s '%[4]s/v1/popular?store=store-01&limit=5'
  %[9]s %[3]s -X POST '%[4]s/v1/stores/store-01/entries' -d '{"customer":"%[1]s"}'
  %[9]s %[3]s -X POST '%[4]s/v1/customers/%[5]s/tokens' -d '{"ttl_seconds":900}'
  %[9]s %[3]s '%[4]s/v1/customers/%[5]s/consent'
  %[9]s %[3]s '%[4]s/v1/customers/%[5]s:export'
  %[9]s %[3]s '%[4]s/v1/models/current'
  %[9]s %[3]s -X POST '%[4]s/v1/models:train' -d '{"epsilon":1}'
  %[9]s %[4]s/openapi.json | head
  grpcurl %[6]s-H 'authorization: Bearer %[2]s' -d '{"customer":"%[1]s","limit":5}' %[7]s discret.v1.RecommendationService/Recommend
  grpcurl %[6]s%[7]s list

`, demoCustomer, key, auth, base, customer, plaintext, grpcAddr, url.PathEscape(cmp.Or(item, "SKU-000001")), curl)
}
