// Package train is Discret's training job: it reads one snapshot of the
// consented events, trains the model with user-level differential privacy,
// releases the DP popularity lists, charges the privacy ledger under the
// budget cap, and stores the release atomically as the current one.
//
// # What one run releases
//
// A private run (finite ε) spends its budget ρ_total = ρ(ε, δ) (the largest
// ρ whose official conversion, DP-ALS.md C2.2, gives ε at δ) on these
// Gaussian releases, all charged to the same customers and composed by
// adding their ρ (C1):
//
//	customers   Ñ, the number of training customers          CustomersShare of ρ(ε, δ₀)     (1 %)
//	selection   the item and store identifiers, if not public  SelectionShare of ρ_total      (20 %, F4)
//	popularity  DP popularity, overall and per store            PopularShare of ρ_total        (10 %, F)
//	ALS         item counts and T steps of G, S_j, t_j          the rest                        (B4–B10)
//
// where δ₀ is the given δ, or 10⁻⁶ when δ is chosen from Ñ. The ALS part is
// calibrated by package als (dp.Calibrate, B10) for the ε that its share of
// ρ gives at δ; the card lists every component. The customer count comes
// first because the default δ depends on it (DP-ALS.md C6: δ = 10⁻⁶, or
// 1/(10·Ñ) rounded down to a power of ten when Ñ exceeds 100 000); choosing
// δ from the exact count would leak it. When identifiers are selected by
// thresholding, the selection spends δ_τ, a share of δ (of the cap's δ,
// if smaller) proportional to the share of the budget cap that the release
// spends (at most SelectionDeltaShare, 5 %; 0.079 % at ε = 1 under the
// default cap), and ε is stated at δ − δ_τ.
//
// # The item universe
//
// Items get vectors only if they are in the universe, which must not depend
// on the data except through DP outputs (DP-ALS.md B5): the public
// catalogue (Config.Catalogue) if given, otherwise the items whose noisy
// count passes a threshold (F4). Stores for the per-store popularity come
// from Config.Stores, or the same selection. A non-private run (ε = ∞) uses
// every item and store in the data and adds no noise; its release is marked
// non-private.
//
// # Budget cap, atomicity
//
// Before it draws any noise, a private Run appends a pending charge of the
// most it can spend (budget.Entry.Pending), in a transaction that checks
// the budget cap (package budget): the ρ of the ledger's releases within
// the cap's window plus this one must convert to at most the cap's ε. A
// refusal there costs nothing. The cap is checked again with the final δ
// and in the store transaction that commits the release. The release's
// ledger entry, which replaces the pending charge, and its manifest commit
// in one transaction, which also makes it current. A run that fails after
// drawing noise leaves no release and the current release as it was, and
// records what it spent (chargeFailed) in place of the pending charge; a
// run killed before it can do either leaves the pending charge. Older
// releases beyond Config.Keep are then deleted (never the current one).
// Every entry records the cap in force and, once the data is read, the days
// of the oldest and newest event the run used (budget.Entry.Cap, Events).
// A non-private run is not checked against the cap (it has no finite
// cost); Config.RefuseNonPrivate refuses it outright.
//
// # Randomness
//
// Production runs draw all randomness — noise, selections, ties, the
// initialization — from dp.NewRand (crypto-seeded) and refuse any other
// source; tests pass a seeded source with AllowTestSource, and the release
// then says "test-seeded" (servers refuse it).
//
// Training never persists anything per customer: user vectors live only in
// memory during training and are not part of the release.
package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime/debug"
	"slices"
	"time"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/model/release"
	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/dp"
	"github.com/discret-io/discret/privacy/retention"
)

// Store is what a training run reads and writes; *store.DB implements it.
type Store interface {
	Events(ctx context.Context) iter.Seq2[features.Event, error]
	Consents(ctx context.Context, ps []privacy.PseudoID) ([]consent.Record, error)
	Ledger(ctx context.Context) ([]store.LedgerRecord, error)
	AppendLedger(ctx context.Context, c store.LedgerCharge) (store.LedgerRecord, error)
	PutRelease(ctx context.Context, w store.ReleaseWrite) (store.ReleaseManifest, error)
	PruneReleases(ctx context.Context, keep int) (store.PruneResult, error)
}

var _ Store = (*store.DB)(nil)

// Defaults of Config.
const (
	DefaultEpsilon        = 1.0
	DefaultDelta          = 1e-6 // upper bound of the default δ rule
	DefaultCustomersShare = 0.01
	DefaultSelectionShare = 0.20
	DefaultPopularShare   = 0.10
	DefaultPopularKeys    = 10
	DefaultPopularNorm    = 1.0
	DefaultSelectionKeys  = 32
	DefaultStoreTop       = 1000
	// SelectionDeltaShare is the largest share of δ that a key selection
	// spends as its δ_τ (DP-ALS.md F4): a release gets it in proportion to
	// the share of the budget cap's ρ it spends (selectionDeltaTau).
	SelectionDeltaShare = 0.05
)

// MaxDelta is the largest δ that the command line and the API accept for a
// training run: they refuse a larger one before the run spends anything.
// Run itself takes any 0 < δ < 1, but it needs δ < 1/Ñ, which it can only
// check once it has released (and been charged for) the noisy customer
// count Ñ: a δ above 10⁻³ fails there for every data set of 1,000
// customers or more. The default δ is 10⁻⁶ or smaller (DP-ALS.md C6).
const MaxDelta = 1e-3

// MinDelta is the smallest δ that a training run accepts (Run, the command
// line and the API). The default rule gives 10⁻¹² only past 10¹¹
// customers. A smaller δ buys nothing real, and since the ledger states the
// cumulative spend at the smallest δ among its releases (package budget),
// one release at a tiny δ would inflate the spend reported for every other
// release of its window.
const MinDelta = 1e-12

// MaxEpsilon is the largest finite ε of a training run (Run, the command
// line and the API; +Inf asks for a non-private run). Beyond it a release
// protects nothing that a non-private one would not, and the noise of its
// steps falls below what the exact sampler's fixed-point sums represent.
const MaxEpsilon = 100

// MinEpsilon is the smallest ε of a private training run (Run refuses a
// smaller one before it spends anything, as do the command line and the
// API). Below it the budget of one training step is so small that its
// noise exceeds what the exact sampler represents (or the step's ε rounds
// to 0), and with any realistic number of customers the model would be
// noise anyway.
const MinEpsilon = 0.001

// Config configures a training run. The zero value of every field means
// its documented default: a private run at ε = 1 with the default δ rule,
// the als and interact defaults, and the default budget cap.
type Config struct {
	// Epsilon is the privacy budget ε of the whole release; math.Inf(1)
	// trains a non-private model. 0 means DefaultEpsilon.
	Epsilon float64
	// Delta is δ; 0 means 10⁻⁶, or 1/(10·Ñ) rounded down to a power of ten
	// for more than 100 000 customers (DP-ALS.md C6). It must be below 1/Ñ.
	Delta float64

	// ALS sets the model's hyper-parameters; Seed, Privacy and Progress
	// are set by Run.
	ALS als.Config
	// Privacy sets the private training's parameters (β, k, R, policy, μ,
	// count share, item fraction, …; zero values mean the als defaults);
	// Epsilon, Delta and Source are set by Run, and ItemFraction to 1 when
	// the items were selected from the data (they are already the most
	// used).
	Privacy als.Privacy
	// Interactions sets the event weights, the strength cap and α
	// (c = 1 + α·w̄).
	Interactions interact.Config

	// Catalogue lists the public item identifiers: the universe of items
	// that get vectors, even those absent from the data. Nil means the
	// universe is selected from the data (DP selection for a private run).
	Catalogue []string
	// Stores lists the public store identifiers of the per-store
	// popularity. Nil means they are selected from the data like the items;
	// an empty non-nil list means no per-store popularity.
	Stores []string

	// Consent is the policy for customers who never expressed a choice.
	Consent consent.Defaults
	// Retention is the retention policy: the data window starts at the
	// oldest time it keeps events (unless Since is later).
	Retention retention.Policy
	// Since, if set, starts the data window later.
	Since time.Time

	// RefuseNonPrivate refuses a non-private run (ε = ∞) before it reads
	// anything, with ErrNonPrivateRefused: the operator's policy that no
	// release without a privacy guarantee is made from customers' data.
	RefuseNonPrivate bool
	// AllowNonPrivateCurrent makes a non-private release (ε = ∞) current.
	// Without it, such a release is stored and the current release stays:
	// servers refuse to serve a non-private release unless allowed, so
	// making it current would leave them with no model.
	AllowNonPrivateCurrent bool
	// MinSelectedItems is the fewest items a release whose items were
	// selected from the data (no public catalogue) must train to become
	// current; 0 means DefaultMinSelectedItems, a negative value no
	// minimum. The DP selection keeps only items used by many customers:
	// on little data, or at a small ε, it keeps a handful, and such a
	// model would replace a useful one while recommending the same few
	// items to everyone.
	MinSelectedItems int

	// Cap is the budget cap checked against the ledger.
	Cap budget.Cap
	// AcceptCapChange lets a private run go ahead under a cap looser than
	// the one recorded with the latest release (budget.Cap.Looser); without
	// it such a run is refused with a *CapLoosenedError before any work, so
	// that a command run without the configuration file that set the cap
	// cannot spend under the built-in default. A stricter cap needs no
	// acceptance (Report.CapChange says it changed).
	AcceptCapChange bool
	// Keep is the number of releases kept; 0 means
	// store.DefaultKeepReleases.
	Keep int

	// Shares of the budget (see the package documentation).
	CustomersShare, SelectionShare, PopularShare float64
	// PopularKeys (k_p) and PopularNorm (C) bound a customer's
	// contribution to the popularity (F2); StoreTop is the length of each
	// store's list; SelectionKeys is the number of item keys a customer
	// contributes to the selection.
	PopularKeys   int
	PopularNorm   float64
	StoreTop      int
	SelectionKeys int

	// Now is the clock (release time, data window, cap window); nil means
	// time.Now.
	Now func() time.Time
	// Source is the randomness; nil means dp.NewRand(). Any other source
	// than a crypto-seeded dp.Rand is refused unless AllowTestSource is set,
	// which only tests and benchmarks do.
	Source          dp.Source
	AllowTestSource bool

	// Progress, if not nil, is called at each stage and after every ALS
	// iteration, from Run's goroutine.
	Progress func(Progress)
}

// Stages of a run, in order.
const (
	StageSnapshot   = "snapshot"
	StageSelection  = "selection"
	StagePopularity = "popularity"
	StageTraining   = "training"
	StageStoring    = "storing"
)

// Progress reports a stage or an ALS iteration.
type Progress struct {
	Stage string
	// Iteration (1-based) and Iterations during StageTraining.
	Iteration, Iterations int
	// Elapsed is the time since Run started.
	Elapsed time.Duration
	// Epsilon is the privacy loss of what has been computed so far
	// (official conversion at the run's δ), +Inf for a non-private run.
	Epsilon float64
}

// Report describes a finished run.
type Report struct {
	Version string
	// Current reports whether the release became current; if not,
	// NotCurrent says why (see MinSelectedItems and
	// Config.AllowNonPrivateCurrent).
	Current    bool
	NotCurrent string
	Card       release.Card

	// Exact counts, for the operator; never released.
	Customers         int // training customers
	ExcludedCustomers int // customers with events but no consent now
	ExcludedEvents    int // their events, and other events consent no longer allows
	Users             int // rows of the matrix (customers with an item in the universe)
	Items             int // released items
	Pairs             int // (customer, item) pairs
	Stores            int

	// Spend is the budget spent in the cap's window, this release included.
	Spend budget.Spend
	// CapChange is set when the cap in force differs from the one recorded
	// with the latest earlier release (a command run without the
	// configuration file that set it, or a deliberate change): the run
	// was checked against the cap in force, which the operator should
	// hear about.
	CapChange *CapChange
	Pruned    []string

	ALS                         *als.Report
	Snapshot, Training, Storing time.Duration
	Total                       time.Duration
}

// CapChange is a cap recorded with an earlier release that differs from
// the cap in force.
type CapChange struct {
	Version  string // the release that recorded it
	Recorded budget.Cap
}

// CapLoosenedError refuses a private run under a cap looser than the one
// recorded with the latest release, without Config.AcceptCapChange.
// Nothing was charged.
type CapLoosenedError struct {
	Cap      budget.Cap // in force, with defaults
	Recorded CapChange
}

func (e *CapLoosenedError) Error() string {
	return fmt.Sprintf("train: the cap in force, %v, is looser than the one recorded with release %s, %v: run with the configuration file that sets privacy.cap_* (--config), or accept the looser cap if it is meant; nothing was charged",
		e.Cap, e.Recorded.Version, e.Recorded.Recorded)
}

// resolved is a Config with its defaults applied.
type resolved struct {
	Config
	private bool
}

func (cfg Config) resolve() (resolved, error) {
	c := resolved{Config: cfg}
	c.Epsilon = cmp.Or(c.Epsilon, DefaultEpsilon)
	c.private = !math.IsInf(c.Epsilon, 1)
	c.CustomersShare = cmp.Or(c.CustomersShare, DefaultCustomersShare)
	c.SelectionShare = cmp.Or(c.SelectionShare, DefaultSelectionShare)
	c.PopularShare = cmp.Or(c.PopularShare, DefaultPopularShare)
	c.PopularNorm = cmp.Or(c.PopularNorm, DefaultPopularNorm)
	c.PopularKeys = cmp.Or(c.PopularKeys, DefaultPopularKeys)
	c.SelectionKeys = cmp.Or(c.SelectionKeys, DefaultSelectionKeys)
	c.StoreTop = cmp.Or(c.StoreTop, DefaultStoreTop)
	c.Keep = cmp.Or(c.Keep, store.DefaultKeepReleases)
	c.MinSelectedItems = cmp.Or(c.MinSelectedItems, DefaultMinSelectedItems)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Cap = c.Cap.WithDefaults()

	// The als and interact defaults, resolved here so that the card
	// records the values used. ALS picks its default iterations by whether
	// the run is private, which it reads from its Privacy.
	a := c.ALS
	if c.private && a.Privacy == nil {
		a.Privacy = &als.Privacy{}
	}
	a = a.WithDefaults()
	a.Privacy = c.ALS.Privacy
	c.ALS = a
	c.Interactions = c.Interactions.WithDefaults()
	return c, c.validate()
}

func (c *resolved) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("train: "+format, args...)) }
	if !(c.Epsilon >= MinEpsilon && (c.Epsilon <= MaxEpsilon || math.IsInf(c.Epsilon, 1))) {
		bad("ε = %v, want a number in [%g, %g], or +Inf for a non-private run", c.Epsilon, MinEpsilon, float64(MaxEpsilon))
	}
	if c.Delta != 0 && !(c.Delta >= MinDelta && c.Delta < 1) {
		bad("δ = %v, want %g ≤ δ < 1", c.Delta, MinDelta)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"customers", c.CustomersShare}, {"selection", c.SelectionShare}, {"popularity", c.PopularShare}} {
		if !(s.v > 0 && s.v < 1) {
			bad("%s share = %v, want 0 < share < 1", s.name, s.v)
		}
	}
	if !(c.CustomersShare+c.SelectionShare+c.PopularShare < 0.9) {
		bad("shares of customers, selection and popularity sum to %v, leaving too little for training (want < 0.9)",
			c.CustomersShare+c.SelectionShare+c.PopularShare)
	}
	if c.PopularKeys < 1 || c.SelectionKeys < 1 || c.StoreTop < 1 || c.Keep < 1 {
		bad("popular keys %d, selection keys %d, store top %d, keep %d: want ≥ 1", c.PopularKeys, c.SelectionKeys, c.StoreTop, c.Keep)
	}
	if !(c.PopularNorm > 0) || math.IsInf(c.PopularNorm, 1) {
		bad("popular norm C = %v, want a finite number > 0", c.PopularNorm)
	}
	if !c.Since.IsZero() && c.Since.After(c.Now()) {
		bad("data window start %v is in the future", c.Since.Format(time.RFC3339))
	}
	for i, id := range c.Catalogue {
		if err := features.ValidateKey(id); err != nil {
			bad("catalogue item %d: %w", i, err)
			break
		}
	}
	for i, id := range c.Stores {
		if err := features.ValidateKey(id); err != nil {
			bad("store %d: %w", i, err)
			break
		}
	}
	if c.Catalogue != nil && len(c.Catalogue) == 0 {
		bad("empty catalogue (nil selects the items from the data)")
	}
	if err := c.Cap.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Interactions.Validate(); err != nil {
		errs = append(errs, err)
	}
	a := c.ALS
	a.Privacy = nil
	if c.private {
		p := c.Privacy
		p.Epsilon, p.Delta = 1, 1e-6 // placeholders: checked for real by als.Train
		p.Source, p.AllowTestSource = nil, false
		a.Privacy = &p
	}
	if err := a.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ErrNonPrivateRefused is returned by Run for a non-private run when
// Config.RefuseNonPrivate is set.
var ErrNonPrivateRefused = errors.New("train: a non-private run (ε = ∞) is refused: the configuration forbids releases without a privacy guarantee")

// ErrNoData is returned when no customer's data can be used.
var ErrNoData = errors.New("train: no usable data: no consenting customer has events in the data window")

// Run trains and stores a release; see the package documentation. The
// release is current when Run returns nil, unless Report.NotCurrent says
// why not (a non-private release without Config.AllowNonPrivateCurrent, or
// too few items selected: Config.MinSelectedItems). A non-private run with
// Config.RefuseNonPrivate fails with ErrNonPrivateRefused, at no cost.
func Run(ctx context.Context, st Store, cfg Config) (*Report, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if !c.private && c.RefuseNonPrivate {
		return nil, ErrNonPrivateRefused
	}
	src := c.Source
	if src == nil {
		src = dp.NewRand()
	}
	if !c.AllowTestSource {
		if err := dp.CheckProduction(src); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	if _, ok := src.(dp.Forker); !ok {
		return nil, fmt.Errorf("train: source %T cannot fork worker streams (want a dp.Forker)", src)
	}
	r := &run{cfg: c, st: st, src: src.(dp.Forker), start: time.Now(), now: c.Now().UTC().Truncate(time.Millisecond)}
	rep, err := r.run(ctx)
	if err != nil && !r.stored {
		switch eps, cerr := r.chargeFailed(ctx, err); {
		case cerr != nil:
			err = errors.Join(err, cerr)
		case eps > 0:
			err = &ChargedError{Err: err, Epsilon: eps}
		}
	}
	return rep, err
}

// ChargedError is the error of a private run that failed (or was
// cancelled) after it had computed something with noise: what it spent,
// Epsilon, is charged to the privacy ledger (chargeFailed).
type ChargedError struct {
	Err     error
	Epsilon float64
}

func (e *ChargedError) Error() string {
	return fmt.Sprintf("%v (%s)", e.Err, e.Charge())
}

func (e *ChargedError) Unwrap() error { return e.Err }

// Charge says what was charged: "the ε = 1 this run spent before it failed
// is charged to the privacy ledger".
func (e *ChargedError) Charge() string {
	return fmt.Sprintf("the ε = %.4g this run spent before it stopped is charged to the privacy ledger", e.Epsilon)
}

// chargeFailed records in the ledger what a failed private run spent: the
// components it released before failing, and all of the ALS budget once
// the ALS training has started (its steps are not tracked one by one, and
// charging them all is the safe side). The failure itself, like an error
// saying that no item passed the selection threshold, is a function of
// those noisy values, so it is covered; retrying does not come for free.
// The entry is appended even beyond the cap: the spend has happened.
func (r *run) chargeFailed(ctx context.Context, cause error) (float64, error) {
	rho := r.rhoSpent
	comps := slices.Clone(r.components)
	if r.alsStarted {
		rho += r.rhoAls
		comps = append(comps, budget.Component{Name: "als", Releases: 1, RhoEach: r.rhoAls, Rho: r.rhoAls, Epsilon: r.epsAls})
	}
	if !r.cfg.private || (rho == 0 && !r.pending) {
		return 0, nil
	}
	// Also with ρ = 0 once the pending charge is written: this entry
	// replaces it.
	e := r.failedEntry(rho, comps)
	e.Failed = cause.Error()
	if len(e.Failed) > 500 {
		e.Failed = e.Failed[:500] + "…"
	}
	data, err := e.Marshal()
	if err != nil {
		return 0, fmt.Errorf("train: charging the failed run: %w", err)
	}
	// Also when ctx was cancelled: the charge must not be lost.
	if _, err := r.st.AppendLedger(context.WithoutCancel(ctx), store.LedgerCharge{Time: e.Time, Data: data}); err != nil {
		return 0, fmt.Errorf("train: charging the failed run (ρ = %.4g) to the privacy ledger: %w", rho, err)
	}
	return e.Epsilon, nil
}

// failedEntry is the ledger entry of a failed run that spent rho on comps.
// A failed run releases nothing under a δ of its own, so its cost is
// stated at the smaller of its δ and the cap's, never at a larger one: a
// run refused because its δ was too large for its customers would
// otherwise read ε ≈ 0 (or its δ would be unset, when the run failed
// before fixing it). Only a key selection that ran spends its δ_τ; the
// statement then keeps the run's δ, of which δ_τ is a share.
func (r *run) failedEntry(rho float64, comps []budget.Component) budget.Entry {
	e := r.entry(rho, 0)
	e.Components = comps
	e.DeltaThreshold = 0
	for _, c := range comps {
		e.DeltaThreshold += c.DeltaThreshold
	}
	if e.DeltaThreshold == 0 {
		e.Selected = nil // the selection did not run
	}
	if capDelta := r.cfg.Cap.Delta; e.DeltaThreshold == 0 && !(e.Delta > 0 && e.Delta < capDelta) {
		e.Delta = capDelta
	}
	if eps, err := dp.Epsilon(rho, e.Delta-e.DeltaThreshold, dp.RDP); err == nil && !math.IsInf(eps, 0) {
		e.Epsilon = eps
	}
	return e
}

// run is the state of one Run.
type run struct {
	cfg   resolved
	st    Store
	src   dp.Forker
	start time.Time
	now   time.Time

	window  budget.Window
	snap    *snapshot
	version string

	// Privacy plan.
	delta, deltaConv, deltaTau float64
	rhoTotal, rhoAls           float64
	epsAls                     float64
	components                 []budget.Component
	noisyCustomers             float64
	rhoSpent                   float64 // of the components released so far
	alsStarted                 bool    // the ALS training (ρ = rhoAls) has begun
	pending                    bool    // the pending charge is in the ledger
	stored                     bool    // the release and its charge are stored

	rep *Report
}

func (r *run) progress(p Progress) {
	if r.cfg.Progress == nil {
		return
	}
	p.Elapsed = time.Since(r.start)
	if p.Epsilon == 0 { // the ε spent so far, unless the caller has set it
		p.Epsilon = r.epsilonOf(r.rhoSpent)
	}
	r.cfg.Progress(p)
}

func (r *run) epsilonOf(rho float64) float64 {
	if !r.cfg.private {
		return math.Inf(1)
	}
	if rho == 0 {
		return 0
	}
	e, err := dp.Epsilon(rho, r.deltaConv, dp.RDP)
	if err != nil {
		return math.NaN()
	}
	return e
}

func (r *run) run(ctx context.Context) (*Report, error) {
	c := &r.cfg
	r.rep = &Report{}
	r.version = r.newVersion()
	r.window = budget.Window{From: r.windowStart(), To: r.now}
	if c.private {
		if err := r.checkCapChange(ctx); err != nil {
			return nil, err
		}
	}

	t0 := time.Now()
	snap, err := collect(ctx, r.st, c.Consent, r.window, r.retention())
	if err != nil {
		return nil, err
	}
	r.snap = snap
	r.rep.Customers, r.rep.ExcludedCustomers, r.rep.ExcludedEvents = snap.customers, snap.excludedCustomers, snap.excludedEvents
	if snap.customers == 0 {
		return nil, ErrNoData
	}
	r.rep.Snapshot = time.Since(t0)
	r.progress(Progress{Stage: StageSnapshot})

	t1 := time.Now()
	if c.private {
		if err := r.plan(ctx); err != nil {
			return nil, err
		}
	}
	items, stores, universe, err := r.universe(ctx)
	if err != nil {
		return nil, err
	}
	itemPos := positions(snap.itemIdx, len(snap.items), items)
	storePos := positions(snap.storeIdx, len(snap.stores), stores)

	pop, err := r.popularity(ctx, itemPos, storePos, len(items), len(stores))
	if err != nil {
		return nil, err
	}
	model, alsRep, pairs, err := r.train(ctx, itemPos, len(items), universe == release.UniverseSelection)
	if err != nil {
		return nil, err
	}
	r.rep.Training = time.Since(t1)

	rel, err := r.release(model, alsRep, items, stores, universe, pop)
	if err != nil {
		return nil, err
	}
	r.rep.Users, r.rep.Items, r.rep.Pairs, r.rep.Stores, r.rep.ALS = alsRep.Users, len(items), pairs, len(stores), alsRep

	t2 := time.Now()
	r.progress(Progress{Stage: StageStoring, Epsilon: rel.Card.Epsilon()})
	r.rep.NotCurrent = notCurrent(&rel.Card, &c.Config)
	if err := r.store(ctx, rel, r.rep.NotCurrent == ""); err != nil {
		return nil, err
	}
	r.rep.Storing = time.Since(t2)
	r.rep.Total = time.Since(r.start)
	return r.rep, nil
}

// newVersion names the release: its UTC time to the second and 32 random
// bits, so that versions sort by time and never collide.
func (r *run) newVersion() string {
	return fmt.Sprintf("%s-%08x", r.now.Format("20060102T150405Z"), uint32(r.src.Fork().Uint64()))
}

// windowStart is the start of the data window: Since, or the oldest event
// time the retention policy keeps.
func (r *run) windowStart() time.Time {
	from := r.now
	for _, k := range privacy.EventKinds {
		p := r.cfg.Retention.Period(k)
		from = minTime(from, p.Before(r.now))
	}
	if s := r.cfg.Since.UTC(); !r.cfg.Since.IsZero() && s.After(from) {
		from = s
	}
	return from
}

// retention returns whether the retention policy in force keeps an event
// now. A stored event's expiry was set by the policy when it arrived; a
// period shortened since applies here (as in a store opened with the policy,
// store.Options.Retention), so that no model uses what the policy no longer
// keeps.
func (r *run) retention() func(features.Event) bool {
	return func(e features.Event) bool {
		return e.Kind.Valid() && !r.cfg.Retention.Expired(e.Kind, e.Time, r.now)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// chargePending appends the run's pending charge (budget.Entry.Pending)
// before any noise is drawn: the largest ρ the run can have, rhoRef, and
// the largest δ_τ, tauRef, at the largest δ it can use (the explicit δ or
// the upper bound of the default rule). The append checks the cap, so a
// refusal costs nothing; once it is written, a run that dies without a
// word stays charged that much. The run's last entry (release or failure)
// replaces it. plan checks the cap again with the final δ, which the noisy
// customer count decides; a refusal then is charged (chargeFailed).
func (r *run) chargePending(ctx context.Context, rhoRef, tauRef float64) error {
	c := &r.cfg
	e := r.entry(rhoRef, c.Epsilon)
	e.Delta = cmp.Or(c.Delta, DefaultDelta)
	e.DeltaThreshold = tauRef
	e.Pending = true
	charge, err := c.Cap.Charge(e, r.now)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if _, err := r.st.AppendLedger(ctx, *charge); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.pending = true
	return nil
}

// checkCap checks the cap with next against the stored ledger.
func (r *run) checkCap(ctx context.Context, next budget.Entry) error {
	entries, err := budget.Read(ctx, r.st)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if _, err := r.cfg.Cap.Check(entries, next, r.now); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// checkCapChange sets Report.CapChange if the latest ledger entry that
// records a cap records another than the one in force, and refuses a
// looser one (CapLoosenedError) unless Config.AcceptCapChange. It runs
// before anything is drawn, so that a refused run costs nothing.
func (r *run) checkCapChange(ctx context.Context) error {
	entries, err := budget.Read(ctx, r.st)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	e := budget.LatestCap(budget.Effective(entries))
	if e == nil || e.Cap.Equal(r.cfg.Cap) {
		return nil
	}
	change := CapChange{Version: e.Version, Recorded: *e.Cap}
	if r.cfg.Cap.Looser(*e.Cap, r.now) && !r.cfg.AcceptCapChange {
		return &CapLoosenedError{Cap: r.cfg.Cap, Recorded: change}
	}
	r.rep.CapChange = &change
	return nil
}

// plan releases the number of customers, fixes δ and splits the budget
// (see the package documentation), and checks the cap before the long work.
func (r *run) plan(ctx context.Context) error {
	c := &r.cfg
	needSel := c.Catalogue == nil || c.Stores == nil
	ref := cmp.Or(c.Delta, DefaultDelta)
	var tauRef float64
	if needSel {
		var err error
		if tauRef, err = r.selectionDeltaTau(ref); err != nil {
			return err
		}
	}
	// δ − δ_τ grows with δ, so this is the most favourable δ and the
	// largest ρ.
	rhoRef, err := dp.RhoForEpsilon(c.Epsilon, ref-tauRef, dp.RDP)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	// The ALS checks that read no data, at the most favourable δ: if they
	// fail there, they fail at the final δ too (less ρ, more noise).
	if err := r.checkALS(rhoRef, ref-tauRef); err != nil {
		return err
	}
	if err := r.chargePending(ctx, rhoRef, tauRef); err != nil {
		return err
	}
	zn := dp.MultiplierForRho(c.CustomersShare * rhoRef)
	nt, comp, err := releaseCustomers(r.snap.customers, zn, r.src.Fork())
	if err != nil {
		return err
	}
	r.noisyCustomers = nt
	r.components = append(r.components, comp)
	r.rhoSpent = comp.Rho

	r.delta = c.Delta
	if r.delta == 0 {
		if r.delta, err = defaultDelta(nt); err != nil {
			return err
		}
	}
	if needSel {
		if r.deltaTau, err = r.selectionDeltaTau(r.delta); err != nil {
			return err
		}
	}
	r.deltaConv = r.delta - r.deltaTau
	if r.delta >= 1/max(nt, 1) {
		return fmt.Errorf("train: δ = %g is not below 1/n for about n = %.0f training customers (noisy count); use δ ≤ 1/(10·n), the default", r.delta, nt)
	}
	if r.rhoTotal, err = dp.RhoForEpsilon(c.Epsilon, r.deltaConv, dp.RDP); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.rhoAls = r.alsShare(r.rhoTotal, comp.Rho)
	if !(r.rhoAls > 0) {
		return fmt.Errorf("train: the customer count (ρ = %.3g) leaves no budget for training at (ε, δ) = (%g, %g)", comp.Rho, c.Epsilon, r.delta)
	}
	if r.epsAls, err = dp.Epsilon(r.rhoAls, r.deltaConv, dp.RDP); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := r.checkALS(r.rhoTotal, r.deltaConv); err != nil {
		return err
	}
	// Check the cap now with the planned total: the realized ρ is at most
	// that (calibration rounds down).
	return r.checkCap(ctx, r.entry(r.rhoTotal, c.Epsilon))
}

// selectionDeltaTau returns the δ_τ of a key selection in a release of
// the run's ε at δ: SelectionDeltaShare·min(δ, δ_cap)·min(1, ρ(ε, δ)/ρ_cap),
// where ρ_cap = ρ(ε_cap, δ_cap) is the most that the releases of a window
// can spend under the cap (the share is whole without a cap).
//
// The δ_τ of the releases in the cap's window add up, against one δ: the
// smallest of theirs and the cap's (package budget), hence min(δ, δ_cap)
// for a release at a δ above the cap's. A fixed share of each release's δ
// therefore runs out after 1/share releases: after 10 at δ/10, so that
// weekly retraining without a catalogue was refused from its tenth week.
// In proportion to ρ, the δ_τ add up like the ρ, which the cap bounds:
// the releases of a window that fits the cap, all at δ, spend at most
// about SelectionDeltaShare·δ on their thresholds (ρ(ε, δ) exceeds a
// release's realized ρ by less than 1 %), however many they are; a run
// that fails after its selection is charged its whole δ_τ for a fifth of
// its ρ or more, so a window of such failures spends at most five times
// that. Under
// the default cap, 52 weekly releases at ε = 1 spend 4.1 % of δ
// (7.9·10⁻⁴·δ each), 365 daily ones at ε = 0.35 4.0 %. The cost, fewer
// keys passing the threshold τ = Δ∞ + σ·Φ⁻¹((1 − δ_τ)^(1/Δ₀)), falls on
// the small releases, where few keys pass anyway: at δ = 10⁻⁶ and Δ₀ = 40
// keys, τ is 0.76σ higher than at δ/10 for ε = 1, 0.31σ for ε = 5 (a
// fixed share of 10⁻⁴ would cost 1.06σ at every ε).
func (r *run) selectionDeltaTau(delta float64) (float64, error) {
	c := &r.cfg
	share := 1.0
	if !math.IsInf(c.Cap.Epsilon, 1) {
		rho, err := dp.RhoForEpsilon(c.Epsilon, delta, dp.RDP)
		if err != nil {
			return 0, fmt.Errorf("train: %w", err)
		}
		rhoCap, err := dp.RhoForEpsilon(c.Cap.Epsilon, c.Cap.Delta, dp.RDP)
		if err != nil {
			return 0, fmt.Errorf("train: budget cap: %w", err)
		}
		share = min(1, rho/rhoCap)
	}
	return SelectionDeltaShare * share * min(delta, c.Cap.Delta), nil
}

// alsShare is the ρ left to the ALS training out of a total ρ once the
// customer count (rhoCustomers), the popularity and the selection have
// theirs.
func (r *run) alsShare(rhoTotal, rhoCustomers float64) float64 {
	c := &r.cfg
	rho := rhoTotal - rhoCustomers - c.PopularShare*rhoTotal
	if c.Catalogue == nil || c.Stores == nil {
		rho -= c.SelectionShare * rhoTotal
	}
	return rho
}

// checkALS runs the ALS checks that draw no noise and read no data
// (als.CheckPrivacy) for a run of total ρ at the conversion δ, so that a
// configuration the trainer would refuse is refused before the popularity,
// the selection and the ALS steps spend their budget.
func (r *run) checkALS(rhoTotal, deltaConv float64) error {
	if !r.cfg.private {
		return nil
	}
	rho := r.alsShare(rhoTotal, r.cfg.CustomersShare*rhoTotal)
	if !(rho > 0) {
		return nil // plan says so with the realized count
	}
	eps, err := dp.Epsilon(rho, deltaConv, dp.RDP)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	// δ is set, so the user count (for a default δ) is not read.
	if err := als.CheckPrivacy(r.alsConfig(eps, deltaConv), 1); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// alsConfig is the run's ALS configuration with the ALS budget (eps,
// delta), without its randomness.
func (r *run) alsConfig(eps, delta float64) als.Config {
	c := &r.cfg
	acfg := c.ALS
	acfg.Privacy = nil
	if c.private {
		p := c.Privacy
		p.Epsilon, p.Delta = eps, delta
		p.Source = nil
		acfg.Privacy = &p
	}
	return acfg
}

// defaultDelta is the default δ for about n training customers (a noisy
// count): 10⁻⁶, or 1/(10·n) rounded down to a power of ten when that is
// smaller, i.e. for more than 100 000 customers (DP-ALS.md C6).
func defaultDelta(n float64) (float64, error) {
	d, err := dp.DefaultDelta(max(1, int(math.Round(n))))
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	return min(DefaultDelta, d), nil
}

// entry is the ledger entry of this run for a total ρ and ε: it records
// the cap in force and, once the data is read, the days of its oldest and
// newest event.
func (r *run) entry(rho, eps float64) budget.Entry {
	inForce := r.cfg.Cap
	e := budget.Entry{
		Time: r.now, Version: r.version, Private: r.cfg.private, Mechanism: "dp-als",
		Neighbouring: budget.Neighbouring, RNG: string(dp.KindOf(r.src)), Window: r.window, Cap: &inForce,
	}
	if s := r.snap; s != nil && len(s.item) > 0 {
		days := budget.DaysOf(s.oldest, s.newest)
		e.Events = &days
	}
	if r.cfg.private {
		e.Rho, e.Epsilon, e.Delta, e.DeltaThreshold = rho, eps, r.delta, r.deltaTau
		e.Selected = r.cfg.selected()
	}
	return e
}

// selected names the identifiers a private run chooses from the data
// (budget.Entry.Selected): the items without a catalogue, the stores
// without a list of them.
func (c *resolved) selected() []string {
	var s []string
	if c.Catalogue == nil {
		s = append(s, budget.SelectedItems)
	}
	if c.Stores == nil {
		s = append(s, budget.SelectedStores)
	}
	return s
}

// universe fixes the released items and stores (DP-ALS.md B5).
func (r *run) universe(ctx context.Context) (items, stores []string, how string, err error) {
	c := &r.cfg
	s := r.snap
	items, stores = c.Catalogue, c.Stores
	how = release.UniverseCatalogue
	if items == nil {
		how = release.UniverseData
		if c.private {
			how = release.UniverseSelection
		}
	}
	if c.private && (items == nil || stores == nil) {
		z := dp.MultiplierForRho(c.SelectionShare * r.rhoTotal)
		sel, err := s.selectKeys(ctx, c.Interactions, items == nil, stores == nil, c.SelectionKeys, z, r.deltaTau, r.src)
		if err != nil {
			return nil, nil, "", err
		}
		r.components = append(r.components, sel.component)
		r.rhoSpent += sel.component.Rho
		r.progress(Progress{Stage: StageSelection})
		if items == nil {
			items = sel.items
		}
		if stores == nil {
			stores = sel.stores
		}
		if len(items) == 0 {
			return nil, nil, "", fmt.Errorf("train: no item passed the DP selection threshold (τ = %.1f, σ = %.1f); give the public catalogue, more data or a larger ε", sel.threshold, sel.component.Sigma)
		}
	}
	if items == nil {
		items = s.items
	}
	if stores == nil {
		stores = s.stores
	}
	return sortedIDs(items), sortedIDs(stores), how, nil
}

// positions maps interned identifiers to their position in universe, or -1.
func positions(idx map[string]int32, n int, universe []string) []int32 {
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = -1
	}
	for p, id := range universe {
		if i, ok := idx[id]; ok {
			pos[i] = int32(p)
		}
	}
	return pos
}

func (r *run) popularity(ctx context.Context, itemPos, storePos []int32, nItems, nStores int) (popularity, error) {
	c := &r.cfg
	z := 0.0
	if c.private {
		z = dp.MultiplierForRho(c.PopularShare * r.rhoTotal)
	}
	p, err := r.snap.releasePopularity(ctx, c.Interactions, itemPos, storePos, nItems, nStores, c.PopularKeys, c.PopularNorm, z, c.StoreTop, r.src)
	if err != nil {
		return p, err
	}
	if c.private {
		r.components = append(r.components, p.component)
		r.rhoSpent += p.component.Rho
	}
	r.progress(Progress{Stage: StagePopularity})
	return p, nil
}

// train builds the interaction matrix over the universe and trains ALS.
func (r *run) train(ctx context.Context, itemPos []int32, nItems int, selected bool) (*als.Model, *als.Report, int, error) {
	c := &r.cfg
	s := r.snap
	// Rows: customers with at least one weighted event on a universe item.
	rows := 0
	rowOf := make([]int32, s.customers)
	for cu := range s.customers {
		rowOf[cu] = -1
		lo, hi := s.events(cu)
		for e := lo; e < hi; e++ {
			if s.item[e] >= 0 && itemPos[s.item[e]] >= 0 && c.Interactions.Weights[s.kind[e]] > 0 {
				rowOf[cu] = int32(rows)
				rows++
				break
			}
		}
	}
	if rows == 0 {
		return nil, nil, 0, fmt.Errorf("%w (no customer has a weighted event on the %d items of the universe)", ErrNoData, nItems)
	}
	b, err := interact.NewBuilder(c.Interactions, rows, nItems)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("train: %w", err)
	}
	for cu := range s.customers {
		if rowOf[cu] < 0 {
			continue
		}
		lo, hi := s.events(cu)
		for e := lo; e < hi; e++ {
			if s.item[e] < 0 || itemPos[s.item[e]] < 0 {
				continue
			}
			if err := b.Add(int(rowOf[cu]), int(itemPos[s.item[e]]), s.kind[e], s.qty[e]); err != nil {
				return nil, nil, 0, fmt.Errorf("train: %w", err)
			}
		}
	}
	m := b.Matrix()

	acfg := r.alsConfig(r.epsAls, r.deltaConv)
	acfg.Seed = r.src.Fork().Uint64()
	if p := acfg.Privacy; p != nil {
		if selected {
			p.ItemFraction = 1
		}
		p.Source, p.AllowTestSource = r.src.Fork(), c.AllowTestSource
	}
	rhoBefore := r.rhoSpent
	r.alsStarted = true
	acfg.Progress = func(p als.Progress) {
		eps := math.Inf(1)
		if c.private {
			// als reports ε of its own releases at δ; its ρ is the inverse.
			rho, err := dp.RhoForEpsilon(p.Epsilon, r.deltaConv, dp.RDP)
			if err != nil {
				rho = math.NaN()
			}
			eps = r.epsilonOf(rhoBefore + rho)
		}
		r.progress(Progress{Stage: StageTraining, Iteration: p.Iteration, Iterations: p.Iterations, Epsilon: eps})
	}
	model, rep, err := als.Train(ctx, m, acfg)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("train: %w", err)
	}
	return model, rep, m.Len(), nil
}

// release assembles the release and its card.
func (r *run) release(m *als.Model, rep *als.Report, items, stores []string, universe string, pop popularity) (*release.Release, error) {
	c := &r.cfg
	d := m.Factors
	vec := make([]float32, len(items)*d)
	for i, x := range m.V {
		vec[i] = float32(x)
	}
	weights := map[string]float64{}
	for k, w := range c.Interactions.Weights {
		weights[k.String()] = w
	}
	card := release.Card{
		Format: release.CardFormat, Version: r.version, Created: r.now, Software: software(),
		Private: c.private, RNG: string(dp.KindOf(r.src)), Window: r.window,
		Items: len(items), Trained: m.Universe, Stores: len(stores), Universe: universe,
		Hyper: release.Hyper{
			Factors: d, Iterations: rep.Iterations, Lambda: m.Lambda, RegExponent: m.RegExponent, Unobserved: m.Unobserved,
			InitScale: c.ALS.InitScale, Weights: weights, StrengthCap: c.Interactions.Cap, Alpha: c.Interactions.Alpha,
			PopularKeys: c.PopularKeys, PopularNorm: c.PopularNorm, StoreTop: c.StoreTop,
		},
	}
	if !c.private {
		card.Customers = release.Customers{Value: roundSignificant(float64(r.snap.customers)), Method: "rounded"}
	} else {
		led := rep.Privacy
		if led == nil {
			return nil, errors.New("train: internal error: private training without a privacy ledger")
		}
		h := &card.Hyper
		h.Budget, h.MaxItems, h.ClipNorm, h.Policy, h.Mu, h.Fill = led.Budget, led.MaxItems, led.ClipNorm, led.Policy.String(), led.Mu, led.Fill
		h.CountShare, h.ItemFraction, h.Gram, h.Shrinkage = c.Privacy.CountShare, led.ItemFraction, led.Gram.String(), led.Shrinkage
		h.MaxFactors, h.RankRule = led.MaxFactors, led.RankRule
		h.CountShare = cmp.Or(h.CountShare, als.DefaultCountShare)
		if c.Catalogue == nil || c.Stores == nil {
			h.SelectionKeys = c.SelectionKeys
		}
		sigma := map[string]float64{"counts": led.SigmaCounts, "G": led.SigmaG, "S": led.SigmaS, "t": led.SigmaT}
		comps := slices.Clone(r.components)
		for _, ch := range led.Charges {
			comp := budget.Component{Name: ch.Label, Multiplier: ch.Multiplier, Releases: ch.Releases, RhoEach: dp.RhoForMultiplier(ch.Multiplier), Rho: ch.Rho, Sigma: sigma[ch.Label]}
			if comp.Sigma > 0 {
				comp.Sensitivity = comp.Sigma / comp.Multiplier
			}
			comps = append(comps, comp)
		}
		var rho float64
		for i := range comps {
			rho += comps[i].Rho
			comps[i].Epsilon = r.epsilonOf(comps[i].Rho)
		}
		stmt, err := dp.NewStatement(rho, r.deltaConv)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		if stmt.Epsilon > c.Epsilon+1e-9 {
			return nil, fmt.Errorf("train: internal error: realized ε = %.12g exceeds the target %v", stmt.Epsilon, c.Epsilon)
		}
		card.Privacy = &release.Privacy{
			Neighbouring: budget.Neighbouring, Epsilon: stmt.Epsilon, Delta: r.delta, DeltaThreshold: r.deltaTau,
			TargetEpsilon: c.Epsilon, Rho: rho, Mu: stmt.Mu, Alpha: stmt.Alpha,
			EpsilonSimple: stmt.EpsilonSimple, EpsilonGaussian: stmt.EpsilonGaussian,
			Components: comps, Samples: led.Samples,
		}
		sig := r.components[0].Sigma
		card.Customers = release.Customers{Value: roundSignificant(r.noisyCustomers), Method: "noisy", Sigma: sig}
	}
	rel := &release.Release{
		Card: card, Items: items, Vectors: vec, Trained: slices.Clone(m.InUniverse),
		Popular: pop.overall, Stores: stores, StorePopular: pop.stores,
	}
	r.rep.Card = card
	return rel, rel.Validate()
}

// DefaultMinSelectedItems is the default of Config.MinSelectedItems.
const DefaultMinSelectedItems = 10

// notCurrent returns why a release with card c must not become current, or
// "" if it may.
func notCurrent(c *release.Card, cfg *Config) string {
	if c.Privacy == nil && !cfg.AllowNonPrivateCurrent {
		return "it is non-private (ε = ∞), for evaluation: servers refuse it unless started with --allow-non-private"
	}
	return TooFewItems(c, cfg.MinSelectedItems)
}

// TooFewItems returns why the release of card c is too poor to serve, or
// "" if it is not: its items were selected from the data by the DP
// threshold (no public catalogue) and fewer than minItems passed it (0
// means DefaultMinSelectedItems, a negative value no minimum; see
// Config.MinSelectedItems). Run does not make such a release current, and
// 'discret models use' refuses it unless forced.
func TooFewItems(c *release.Card, minItems int) string {
	minItems = cmp.Or(minItems, DefaultMinSelectedItems)
	if c.Universe != release.UniverseSelection || c.Trained >= minItems {
		return ""
	}
	items := "items"
	if c.Trained == 1 {
		items = "item"
	}
	return fmt.Sprintf("only %d %s passed the DP selection (fewer than %d): the data has too few customers per item at this ε; store the public catalogue ('discret items import') or train with a larger ε", c.Trained, items, minItems)
}

// store charges the ledger and stores the release, as the current one if
// current, then prunes old releases.
func (r *run) store(ctx context.Context, rel *release.Release, current bool) error {
	c := &r.cfg
	meta, parts, err := release.Encode(rel)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var rho float64
	if p := rel.Card.Privacy; p != nil {
		rho = p.Rho
	}
	entry := r.entry(rho, rel.Card.Epsilon())
	if p := rel.Card.Privacy; p != nil {
		entry.Components = p.Components
	}
	entry.Parameters = parameters(&rel.Card)
	charge, err := c.Cap.Charge(entry, r.now)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	_, err = r.st.PutRelease(ctx, store.ReleaseWrite{
		Manifest: store.ReleaseManifest{Version: r.version, Created: r.now, Meta: meta},
		Parts:    parts, Charge: charge, MakeCurrent: current,
	})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.stored = true
	r.rep.Version, r.rep.Current = r.version, current
	entries, err := budget.Read(ctx, r.st)
	if err == nil {
		r.rep.Spend, err = c.Cap.Spent(entries, r.now)
	}
	if err != nil {
		return fmt.Errorf("train: release %s stored; reading the ledger back: %w", r.version, err)
	}
	res, err := r.st.PruneReleases(ctx, c.Keep)
	if err != nil {
		return fmt.Errorf("train: release %s stored; pruning old releases: %w", r.version, err)
	}
	r.rep.Pruned = res.Deleted
	return nil
}

// parameters are the mechanism's parameters for the ledger.
func parameters(c *release.Card) map[string]float64 {
	h := c.Hyper
	p := map[string]float64{
		"factors": float64(h.Factors), "steps": float64(h.Iterations), "lambda": h.Lambda, "unobserved_weight": h.Unobserved,
		"alpha": h.Alpha, "strength_cap": h.StrengthCap, "popular_keys": float64(h.PopularKeys), "popular_norm": h.PopularNorm,
	}
	if c.Private {
		p["budget_beta"], p["max_items_per_user"], p["clip_norm"], p["rare_item_exponent"], p["count_share"] = h.Budget, float64(h.MaxItems), h.ClipNorm, h.Mu, h.CountShare
		p["item_fraction"], p["max_factors"] = h.ItemFraction, float64(h.MaxFactors)
		if h.SelectionKeys > 0 {
			p["selection_keys"] = float64(h.SelectionKeys)
		}
	}
	return p
}

func software() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Path + "@" + bi.Main.Version
	}
	return ""
}
