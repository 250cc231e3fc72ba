package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/ingest"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/features/synth"
	"github.com/discret-io/discret/model/train"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/serve"
	"github.com/discret-io/discret/serve/auth"
	"github.com/discret-io/discret/serve/rpc"
)

// serveFlags are the flags of `discret serve`.
type serveFlags struct {
	grpcAddr, httpAddr string
	tlsCert, tlsKey    string
	rateLimit          float64
	maxRequestBytes    int
	timeout            time.Duration
	shutdownTimeout    time.Duration
	logLevel           string
	demo               bool
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
)

func serveCommand() *command {
	var f serveFlags
	return &command{
		name:    "serve",
		args:    "[--demo]",
		summary: "serve the gRPC and REST API",
		help: `Serve answers the Discret API over gRPC (--grpc-addr) and REST/JSON
(--http-addr) until SIGINT or SIGTERM, then lets in-flight requests finish
(within --shutdown-timeout) and closes the data directory.

Every request needs an API key ('discret apikey create'). The HTTP listener
also serves /healthz, /readyz (ready once a model is loaded), /metrics
(Prometheus) and /openapi.json, without a key. The gRPC listener serves the
health service and reflection (for grpcurl).

--demo sets everything up first: a master key and a data directory if absent,
a synthetic dataset (ingested under the consent rules), a model, a demo
customer (` + demoCustomer + `) and a demo API key with every scope, written
to DATA/` + demoKeyFile + ` (mode 0600). It prints commands to try.`,
		flags: func(fs *flag.FlagSet, e *env) {
			fs.StringVar(&f.grpcAddr, "grpc-addr", firstNonEmpty(e.getenv("DISCRET_GRPC_ADDR"), serve.DefaultGRPCAddr), "gRPC listen address `ADDR` (env DISCRET_GRPC_ADDR)")
			fs.StringVar(&f.httpAddr, "http-addr", firstNonEmpty(e.getenv("DISCRET_HTTP_ADDR"), serve.DefaultHTTPAddr), "REST listen address `ADDR` (env DISCRET_HTTP_ADDR)")
			fs.StringVar(&f.tlsCert, "tls-cert", e.getenv("DISCRET_TLS_CERT"), "TLS certificate chain, PEM `FILE`, for both listeners (env DISCRET_TLS_CERT)")
			fs.StringVar(&f.tlsKey, "tls-key", e.getenv("DISCRET_TLS_KEY"), "TLS private key, PEM `FILE` (env DISCRET_TLS_KEY)")
			fs.Float64Var(&f.rateLimit, "rate-limit", serve.DefaultRateLimit, "requests per second per API key, `N` (bursts of twice that; -1: no limit)")
			fs.IntVar(&f.maxRequestBytes, "max-request-bytes", serve.DefaultMaxRequestBytes, "largest request, `BYTES`")
			fs.DurationVar(&f.timeout, "timeout", serve.DefaultTimeout, "deadline of requests that set none, `DURATION`")
			fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", serve.DefaultShutdownTimeout, "how long in-flight requests may take to finish at shutdown, `DURATION`")
			fs.StringVar(&f.logLevel, "log-level", "info", "request log `LEVEL`: debug, info, warn or error")
			fs.BoolVar(&f.demo, "demo", false, "set up a synthetic dataset, a model and a demo key first")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
				return usagef("--log-level: want debug, info, warn or error")
			}
			switch {
			case f.rateLimit == 0 || f.rateLimit < -1:
				return usagef("--rate-limit: want a positive number, or -1 for no limit")
			case f.maxRequestBytes < 1:
				return usagef("--max-request-bytes: want a positive number")
			case f.timeout <= 0 || f.shutdownTimeout <= 0:
				return usagef("--timeout and --shutdown-timeout must be positive")
			}
			return runServe(ctx, e, f, level)
		},
	}
}

func runServe(ctx context.Context, e *env, f serveFlags, level slog.Level) error {
	var d *dataEnv
	var err error
	if f.demo {
		d, err = setupDemo(ctx, e, demoData)
	} else {
		d, err = openData(e, false)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	keys, err := auth.Open(ctx, auth.Config{Store: d.db})
	if err != nil {
		return err
	}
	in, err := ingest.New(ingest.Config{Pseudonyms: d.pseudonyms, Consent: d.settings.consent, Retention: d.settings.retention}, d.db)
	if err != nil {
		return err
	}
	var demoKey string
	if f.demo {
		if err := ensureDemoCustomer(ctx, e, d, in); err != nil {
			return err
		}
		if err := ensureDemoModel(ctx, e, d); err != nil {
			return err
		}
		if demoKey, err = ensureDemoKey(ctx, e, keys); err != nil {
			return err
		}
	}
	if len(keys.List()) == 0 {
		fmt.Fprintln(e.stderr, "warning: there are no API keys, so every request will be refused; stop the server and run 'discret apikey create'")
	}

	api, err := rpc.New(rpc.Config{
		Pseudonyms:      d.pseudonyms,
		Store:           d.db,
		Events:          in,
		ConsentDefaults: d.settings.consent,
	})
	if err != nil {
		return err
	}
	srv, err := serve.New(serve.Config{
		API:  api,
		Keys: keys,
		// Ready once a release is current. The recommendation engine,
		// when it is wired in, reports whether it has loaded one.
		Ready: func() bool {
			_, err := d.db.CurrentRelease(ctx)
			return err == nil
		},
		TLSCertFile:     f.tlsCert,
		TLSKeyFile:      f.tlsKey,
		Logger:          logger,
		MaxRequestBytes: f.maxRequestBytes,
		DefaultTimeout:  f.timeout,
		RateLimit:       f.rateLimit,
		ShutdownTimeout: f.shutdownTimeout,
	})
	if err != nil {
		return err
	}
	gl, hl, err := serve.Listen(f.grpcAddr, f.httpAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "serving gRPC on %s and REST on %s (data %s); Ctrl-C to stop\n", gl.Addr(), hl.Addr(), e.global.data)
	if f.demo {
		printDemoCommands(e.stdout, demoKey, gl.Addr(), hl.Addr(), f.tlsCert != "")
	}

	gcCtx, stopGC := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.db.RunGC(gcCtx, gcInterval) })
	err = srv.Serve(ctx, gl, hl)
	stopGC()
	wg.Wait()
	if err == nil {
		fmt.Fprintln(e.stdout, "stopped; closing the data directory")
	}
	return err
}

// demoEpsilon is the privacy budget of the demo's model.
const demoEpsilon = 1

// demoData describes the demo's synthetic dataset: the defaults of `discret
// demo` (2,000 customers, 1,000 items, 100,000 events).
var demoData = synth.Config{Seed: 1}

// ensureDemoModel trains a differentially private model unless a release is
// current already.
func ensureDemoModel(ctx context.Context, e *env, d *dataEnv) error {
	v, err := d.db.CurrentRelease(ctx)
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "model %s is current; reusing it\n", v)
		return nil
	case !errors.Is(err, store.ErrNoCurrentRelease):
		return err
	}
	// The synthetic catalogue is public, so the model gets a vector for
	// every item of it rather than for a DP selection from the data.
	cat, err := synth.Catalogue(demoData)
	if err != nil {
		return err
	}
	var items, stores []string
	seen := map[string]bool{}
	for _, it := range cat {
		items = append(items, it.ID)
		for _, s := range it.Stores {
			if !seen[s] {
				seen[s] = true
				stores = append(stores, s)
			}
		}
	}
	fmt.Fprintf(e.stdout, "training a differentially private model (ε = %d) on the synthetic catalogue of %d items…\n", demoEpsilon, len(items))
	rep, err := train.Run(ctx, d.db, train.Config{
		Epsilon:   demoEpsilon,
		Catalogue: items,
		Stores:    stores,
		Consent:   d.settings.consent,
		Retention: d.settings.retention,
		Cap:       d.settings.cap,
		Progress:  trainProgress(e),
	})
	if err != nil {
		return fmt.Errorf("demo model: %w", err)
	}
	printTrainReport(e.stdout, rep)
	return nil
}

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

// ensureDemoCustomer gives the demo customer consent and a few purchases if
// the store knows nothing about them (first run, or after they were
// forgotten).
func ensureDemoCustomer(ctx context.Context, e *env, d *dataEnv, in *ingest.Ingester) error {
	c, err := privacy.ParseCustomerID(demoCustomer)
	if err != nil {
		return err
	}
	p := d.pseudonyms.Pseudonymize(c)
	rec, err := d.db.Consent(ctx, p)
	if err != nil || len(rec.Changes) > 0 {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	changes := []consent.Change{
		{Purpose: privacy.Personalization, Granted: true, Time: now.Add(-time.Hour), Source: "demo"},
		{Purpose: privacy.InStore, Granted: true, Time: now.Add(-time.Hour), Source: "demo"},
	}
	if _, err := d.db.UpdateConsent(ctx, p, changes, d.settings.consent); err != nil {
		return err
	}
	var events []features.RawEvent
	for i, item := range []string{"SKU-000003", "SKU-000011", "SKU-000042", "SKU-000097"} {
		events = append(events, features.RawEvent{Customer: c, Item: item, Kind: privacy.Purchase, Time: now.Add(-time.Duration(30-i) * time.Minute), Quantity: 1})
	}
	counts, err := in.Write(ctx, events)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo customer %s: consent granted, %d purchases stored\n", demoCustomer, counts.Stored)
	return nil
}

// printDemoCommands prints ready-to-paste commands against the demo server.
func printDemoCommands(w io.Writer, key string, grpcAddr, httpAddr net.Addr, tls bool) {
	scheme, plaintext := "http", "-plaintext "
	if tls {
		scheme, plaintext = "https", "-insecure "
	}
	base := scheme + "://" + httpAddr.String()
	customer := url.PathEscape(demoCustomer)
	fmt.Fprintf(w, `
Demo customer: %s
Demo API key (scope all): %s

Try:
  curl -s -H "Authorization: Bearer %s" '%s/v1/customers/%s/recommendations?limit=5'
  curl -s -H "Authorization: Bearer %s" '%s/v1/customers/%s/consent'
  curl -s -H "Authorization: Bearer %s" '%s/v1/popular?limit=5'
  curl -s -H "Authorization: Bearer %s" -X POST '%s/v1/stores/store-01/entries' -d '{"customer":"%s"}'
  curl -s -H "Authorization: Bearer %s" '%s/v1/customers/%s:export'
  curl -s %s/openapi.json | head
  grpcurl %s-H 'authorization: Bearer %s' -d '{"customer":"%s","limit":5}' %s discret.v1.RecommendationService/Recommend
  grpcurl %s%s list

`, demoCustomer, key,
		key, base, customer,
		key, base, customer,
		key, base,
		key, base, demoCustomer,
		key, base, customer,
		base,
		plaintext, key, demoCustomer, grpcAddr,
		plaintext, grpcAddr)
}
