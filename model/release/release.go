// Package release is a Discret model release: what training publishes and
// serving loads. A Release holds the item vectors (float32, contiguous,
// row-major, ready for scoring with gonum's blas32), the hyper-parameters a
// user's vector is folded in with (DP-ALS.md B11), the DP popularity lists
// (overall and per store, DP-ALS.md F) and a model card: version, creation
// time, hyper-parameters, the privacy guarantee per component, the kind of
// randomness, the data window and a coarse number of training customers.
// User vectors are never part of a release.
//
// # Storage
//
// Encode turns a Release into the parts features/store keeps: the card as
// the manifest's metadata (JSON) and binary parts — the item identifiers,
// the vectors, the trained-universe flags, the popularity — in a
// checksummed framing (codec.go). Load
// reads them back and validates every size, checksum and value before
// returning; List reads only the cards. features/store writes the parts
// atomically: a release is visible once complete, and only then can it
// become current.
//
// # Serving
//
// A server loads the current release, refuses it if Card.Private is false
// (unless explicitly allowed) or Card.RNG is not "crypto", builds a Folder
// once, and per request turns the customer's consented events into a
// history (History), folds in their vector and scores every item
// (Matrix with blas32.Gemv). Customers without consent or without history
// get Popular, or StorePopular in a store.
package release

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/model/als"
	"github.com/discret-io/discret/model/budget"
	"github.com/discret-io/discret/model/interact"
	"github.com/discret-io/discret/privacy"
)

// CardFormat is the version of the card's JSON schema written by this
// release of Discret.
const CardFormat = 1

// RNG kinds recorded in Card.RNG (privacy/dp.Kind values).
const (
	RNGCrypto     = "crypto"
	RNGTestSeeded = "test-seeded"
)

// Universe values: how the released items were chosen (DP-ALS.md B5).
const (
	// UniverseCatalogue: the public catalogue given to training.
	UniverseCatalogue = "catalogue"
	// UniverseSelection: item identifiers released by a thresholded DP
	// selection over noisy counts (F4), since no catalogue was given.
	UniverseSelection = "dp-selection"
	// UniverseData: every item in the data (non-private releases only).
	UniverseData = "data"
)

// Release is a published model. It is immutable once built: every method is
// safe for concurrent use, and callers must not modify its slices.
type Release struct {
	Card Card

	// Items are the released item identifiers: row i of Vectors and entry
	// i of Popular are item Items[i].
	Items []string
	// Vectors holds the item vectors, len(Items) × Card.Hyper.Factors,
	// row-major.
	Vectors []float32
	// Trained flags the items of the trained universe (DP-ALS.md B5): the
	// others have zero vectors, are ignored by the fold-in, and are served
	// by popularity.
	Trained []bool
	// Popular is the DP popularity of each item over all stores and
	// online, clamped at 0 (DP-ALS.md F5).
	Popular []float32
	// Stores are the stores with a popularity list; StorePopular[s] lists
	// the items most popular in Stores[s], by decreasing DP popularity.
	Stores       []string
	StorePopular [][]Scored

	once  sync.Once
	index map[string]int32
}

// Card is the model card: everything about a release but its numbers. It is
// stored as JSON.
type Card struct {
	Format  int       `json:"card_format"`
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// Software is the Discret module version that trained it.
	Software string `json:"software,omitempty"`
	// Private is false for a non-private release (ε = ∞); Privacy is then
	// nil, and servers refuse the release unless explicitly allowed.
	Private bool `json:"private"`
	// RNG is the kind of randomness of the noise and of every random
	// choice: "crypto" in production, "test-seeded" in tests (refused by
	// servers).
	RNG string `json:"rng"`
	// Window is the data the release was trained on: the events with From
	// ≤ time ≤ To of the customers who consented then. It is the query's
	// window — the training snapshot's time and the oldest time retention
	// allows — not the oldest and newest events found, which would reveal
	// the time of one customer's event.
	Window budget.Window `json:"data_window"`
	// Customers is the number of training customers, never exact (see
	// Customers).
	Customers Customers `json:"training_customers"`
	Items     int       `json:"items"`
	Trained   int       `json:"trained_items"`
	Stores    int       `json:"stores"`
	// Universe says how Items were chosen (UniverseCatalogue, …).
	Universe string   `json:"universe"`
	Hyper    Hyper    `json:"hyperparameters"`
	Privacy  *Privacy `json:"privacy,omitempty"`
	// Evaluation holds offline quality figures when they were computed
	// (never on the training data of a private release).
	Evaluation *Evaluation `json:"evaluation,omitempty"`
}

// Customers is the number of customers whose data entered a release.
//
// The exact number is a statistic of the data: publishing it would let
// anyone who sees two releases tell whether one customer joined in between
// (differencing). A private release therefore publishes Ñ = n + N(0, σ²)
// from the exact discrete Gaussian, a release with sensitivity 1 charged to
// the release's budget like every other component ("customers"), and
// rounded to two significant digits (post-processing). Rounding the exact
// count instead — to a power of ten, say — is not differentially private
// (a customer crossing a rounding boundary changes the output with
// certainty), and the noisy count is needed anyway: the default δ depends on
// the number of customers (DP-ALS.md C6), and choosing δ from the exact
// count would leak it. A non-private release rounds the exact count to two
// significant digits.
type Customers struct {
	Value  int64   `json:"value"`
	Method string  `json:"method"` // "noisy" or "rounded"
	Sigma  float64 `json:"sigma,omitempty"`
}

// Hyper holds the hyper-parameters of a release: those of the fold-in (the
// ALS objective), of the confidences (package interact), and of the private
// mechanisms.
type Hyper struct {
	Factors     int     `json:"factors"`
	Iterations  int     `json:"iterations"`
	Lambda      float64 `json:"lambda"`
	RegExponent float64 `json:"reg_exponent"`
	Unobserved  float64 `json:"unobserved_weight"`
	InitScale   float64 `json:"init_scale"`

	// Confidence c = 1 + α·min(w, StrengthCap), w = Σ Weights[kind]·quantity.
	Weights     map[string]float64 `json:"weights"`
	StrengthCap float64            `json:"strength_cap"`
	Alpha       float64            `json:"alpha"`

	// Private training (DP-ALS.md B6, B8); zero for a non-private release.
	Budget       float64 `json:"budget_beta,omitempty"`
	MaxItems     int     `json:"max_items_per_user,omitempty"`
	ClipNorm     float64 `json:"clip_norm,omitempty"`
	Policy       string  `json:"policy,omitempty"`
	Mu           float64 `json:"mu,omitempty"`
	Fill         bool    `json:"fill,omitempty"`
	CountShare   float64 `json:"count_share,omitempty"`
	ItemFraction float64 `json:"item_fraction,omitempty"`
	Gram         string  `json:"gram,omitempty"`
	Shrinkage    bool    `json:"shrinkage,omitempty"`
	// MaxFactors is the factor count the private run was allowed; Factors
	// (≤ MaxFactors) is what it used, from the automatic rank rule when
	// RankRule is set (als.PrivateRank).
	MaxFactors int  `json:"max_factors,omitempty"`
	RankRule   bool `json:"rank_rule,omitempty"`

	// Popularity (F2) and key selection (F4).
	PopularKeys   int     `json:"popular_keys"`
	PopularNorm   float64 `json:"popular_norm"`
	StoreTop      int     `json:"store_top"`
	SelectionKeys int     `json:"selection_keys,omitempty"`
}

// Privacy is the privacy statement of a release (DP-ALS.md B12, C6).
type Privacy struct {
	Neighbouring string `json:"neighbouring"`
	// Epsilon is the official ε (optimal RDP conversion over continuous
	// orders, C2.2) at Delta − DeltaThreshold; Delta is the total δ;
	// DeltaThreshold the part spent by the key selection (F4), if any.
	Epsilon        float64 `json:"epsilon"`
	Delta          float64 `json:"delta"`
	DeltaThreshold float64 `json:"delta_threshold,omitempty"`
	// TargetEpsilon is the ε that was asked for.
	TargetEpsilon float64 `json:"target_epsilon"`
	// Rho is the total zCDP cost (C1), Mu = √(2ρ) its Gaussian-DP
	// parameter, Alpha the Rényi order attaining Epsilon.
	Rho   float64 `json:"rho"`
	Mu    float64 `json:"mu"`
	Alpha float64 `json:"alpha"`
	// EpsilonSimple is ρ + 2√(ρ ln(1/δ)) (C2.1), EpsilonGaussian the ε of an
	// idealized continuous Gaussian (C2.3): both informational.
	EpsilonSimple   float64 `json:"epsilon_zcdp_simple"`
	EpsilonGaussian float64 `json:"epsilon_exact_gaussian"`
	// Components lists every released statistic and its cost.
	Components []budget.Component `json:"components"`
	// Samples is the number of discrete Gaussian samples drawn.
	Samples int64 `json:"samples"`
}

// Evaluation holds offline quality figures.
type Evaluation struct {
	Dataset  string             `json:"dataset"`
	Protocol string             `json:"protocol"`
	Metrics  map[string]float64 `json:"metrics"`
}

// Epsilon returns the release's official ε, +Inf for a non-private release.
func (c *Card) Epsilon() float64 {
	if !c.Private || c.Privacy == nil {
		return math.Inf(1)
	}
	return c.Privacy.Epsilon
}

// ErrInvalid is returned by Validate.
var ErrInvalid = errors.New("release: invalid release")

// Validate checks the release's internal consistency: sizes, identifiers,
// finite values, and a card that agrees with the data.
func (r *Release) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	c := &r.Card
	n, d := len(r.Items), c.Hyper.Factors
	if c.Format != CardFormat {
		bad("card format %d (this release reads %d)", c.Format, CardFormat)
	}
	if c.Version == "" {
		bad("no version")
	}
	if c.Created.IsZero() {
		bad("no creation time")
	}
	if c.RNG != RNGCrypto && c.RNG != RNGTestSeeded {
		bad("rng %q", c.RNG)
	}
	if c.Private != (c.Privacy != nil) {
		bad("private = %v with privacy statement %v", c.Private, c.Privacy != nil)
	}
	if c.Privacy != nil && !(c.Privacy.Epsilon > 0 && c.Privacy.Delta > 0 && c.Privacy.Delta < 1) {
		bad("privacy (ε, δ) = (%v, %v)", c.Privacy.Epsilon, c.Privacy.Delta)
	}
	if n == 0 || c.Items != n {
		bad("%d items, card says %d", n, c.Items)
	}
	if d < 1 || len(r.Vectors) != n*d {
		bad("%d vector values for %d items × %d factors", len(r.Vectors), n, d)
	}
	trained := 0
	for _, t := range r.Trained {
		if t {
			trained++
		}
	}
	if len(r.Trained) != n || trained == 0 || trained != c.Trained {
		bad("%d trained flags (%d set) for %d items, card says %d trained", len(r.Trained), trained, n, c.Trained)
	}
	if !(c.Hyper.Lambda > 0) || !(c.Hyper.RegExponent > 0) || !(c.Hyper.Unobserved > 0) {
		bad("fold-in parameters λ = %v, ν = %v, w0 = %v", c.Hyper.Lambda, c.Hyper.RegExponent, c.Hyper.Unobserved)
	}
	if len(r.Popular) != n {
		bad("%d popularity values for %d items", len(r.Popular), n)
	}
	if c.Stores != len(r.Stores) || len(r.StorePopular) != len(r.Stores) {
		bad("%d stores, %d store lists, card says %d", len(r.Stores), len(r.StorePopular), c.Stores)
	}
	if err := checkIDs("item", r.Items); err != nil {
		errs = append(errs, err)
	}
	if err := checkIDs("store", r.Stores); err != nil {
		errs = append(errs, err)
	}
	for i, v := range r.Vectors {
		if !finite(v) {
			bad("vector value %d is %v", i, v)
			break
		}
		if d > 0 && i/d < len(r.Trained) && !r.Trained[i/d] && v != 0 {
			bad("untrained item %d has a non-zero vector", i/d)
			break
		}
	}
	for i, v := range r.Popular {
		if !finite(v) || v < 0 {
			bad("popularity of item %d is %v", i, v)
			break
		}
	}
	for s, list := range r.StorePopular {
		for i, e := range list {
			if e.Item < 0 || int(e.Item) >= n || !finite(e.Score) || e.Score < 0 || i > 0 && e.Score > list[i-1].Score {
				bad("store %d popularity entry %d = %+v (want an item index, scores ≥ 0 decreasing)", s, i, e)
				break
			}
		}
	}
	return errors.Join(errs...)
}

func checkIDs(what string, ids []string) error {
	seen := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if err := privacy.ValidateID(id); err != nil {
			return fmt.Errorf("%w: %s %d: %v", ErrInvalid, what, i, err)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: %s %q repeated", ErrInvalid, what, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// Factors returns the dimension d of the item vectors.
func (r *Release) Factors() int { return r.Card.Hyper.Factors }

// Index returns the row of item id.
func (r *Release) Index(id string) (int, bool) {
	r.once.Do(func() {
		r.index = make(map[string]int32, len(r.Items))
		for i, it := range r.Items {
			r.index[it] = int32(i)
		}
	})
	i, ok := r.index[id]
	return int(i), ok
}

// HasVector reports whether item row j has a non-zero vector. Every
// untrained item has a zero vector, and so may a trained one: the private
// item step shrinks a noisy right-hand side whose norm is within the noise
// to exactly zero (positive-part James–Stein, als.Privacy.NoShrinkage),
// so the release knows nothing of the item's customers. Serving treats such
// an item as untrained: no similar items, no say in a customer's vector,
// served by popularity.
func (r *Release) HasVector(j int) bool {
	d := r.Factors()
	return slices.ContainsFunc(r.Vectors[j*d:j*d+d], func(x float32) bool { return x != 0 })
}

// Matrix returns the item vectors as a blas32 matrix (len(Items) × Factors),
// aliasing Vectors: scores of a user vector u are Matrix()·u (blas32.Gemv).
// Untrained items score 0.
func (r *Release) Matrix() blas32.General {
	d := r.Factors()
	return blas32.General{Rows: len(r.Items), Cols: d, Stride: d, Data: r.Vectors}
}

// Model returns the als.Model of the release, for als.NewFolder: the item
// vectors widened to float64 (exactly), the trained universe, and the
// fold-in hyper-parameters. Its Counts is nil: use Popular.
func (r *Release) Model() *als.Model {
	v := make([]float64, len(r.Vectors))
	for i, x := range r.Vectors {
		v[i] = float64(x)
	}
	h := r.Card.Hyper
	return &als.Model{
		Factors: h.Factors, Items: len(r.Items), V: v, InUniverse: slices.Clone(r.Trained), Universe: r.Card.Trained,
		Lambda: h.Lambda, RegExponent: h.RegExponent, Unobserved: h.Unobserved,
	}
}

// Interactions returns the interaction settings the release was trained
// with, to turn a customer's events into confidences as training did.
func (r *Release) Interactions() interact.Config {
	h := r.Card.Hyper
	w := make(map[privacy.EventKind]float64, len(h.Weights))
	for name, v := range h.Weights {
		if k, err := privacy.ParseEventKind(name); err == nil {
			w[k] = v
		}
	}
	return interact.Config{Weights: w, Cap: h.StrengthCap, Alpha: h.Alpha}
}

// History turns a customer's events into the fold-in input of
// als.Folder.UserVector: the indices of the released items they interacted
// with (increasing) and their confidences c = 1 + α·min(w, cap), computed
// exactly as training computed them. Events about other items, and store
// visits, are ignored. The caller passes only events the customer's
// consent allows.
func (r *Release) History(events []features.Event) (items []int32, conf []float64, err error) {
	b, err := interact.NewBuilder(r.Interactions(), 1, len(r.Items))
	if err != nil {
		return nil, nil, fmt.Errorf("release: history: %w", err)
	}
	for _, e := range events {
		j, ok := r.Index(e.Item)
		if !ok {
			continue
		}
		if err := b.Add(0, j, e.Kind, e.Quantity); err != nil {
			return nil, nil, fmt.Errorf("release: history: %w", err)
		}
	}
	it, c := b.Matrix().Row(0)
	return slices.Clone(it), slices.Clone(c), nil
}
