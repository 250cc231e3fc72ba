// Package recommend answers what to show a customer: personalized
// recommendations folded in from the customer's own consented history against
// the current differentially private release, similar items from the item
// embeddings, and the DP popular list as the non-personalized fallback. It
// also serves the release (hot swap), the catalogue filters, and trains new
// releases while serving (Trainer).
//
// # The hot path
//
// Engine.Recommend pseudonymizes the customer, looks up their profile in a
// bounded per-customer cache (consent decision, user vector, purchase
// filter, explanation candidates), and on a miss builds it: the consent
// record, then — only with personalization consent — the customer's
// unexpired events, folded in against the release (als.Folder, DP-ALS.md
// B11). It then scores every item at once, s = V·u, with gonum's
// blas32.Gemv on the release's contiguous float32 item matrix, and keeps the
// best Limit items with a bounded min-heap, skipping items that are not
// trained, unknown to the catalogue or inactive, not available in the
// requested store or category, explicitly excluded, or already purchased
// (a Bloom filter: a false positive only drops a candidate, it never
// reveals anything). Each item is explained by the history item whose
// vector is closest to it (cosine similarity): "because you bought X";
// never by itself, nor by an item the request excludes. Only purchases are
// left out: an item viewed or carted may be recommended, explained by
// another item of the history.
// Customers without personalization consent get the DP popular list (per
// store when one is given) and nothing of theirs is read beyond the consent
// record; customers without usable history get it too.
//
// # Models
//
// A release is loaded into an immutable snapshot (item matrix, norms, folder,
// popularity order, catalogue view) that requests load once from an
// atomic.Pointer, so swapping in a new release never blocks or drops a
// request: requests in flight finish on the snapshot they started with.
// Releases trained without differential privacy are refused unless
// Config.AllowNonPrivate is set, and releases with test-seeded randomness
// are always refused.
//
// # Caches and invalidation
//
// Profiles are cached per pseudonym, in shards with CLOCK eviction, for at
// most Config.CacheMaxAge and never past the expiry of the oldest event they
// were built from. Engine.Invalidate (called by serve/rpc after events are
// written, consent changes or a customer is forgotten) drops a profile and
// makes sure that a profile built from data read before the invalidation
// is never stored: the next request reads the store again. A profile also
// becomes stale when a new release is swapped in.
package recommend

import (
	"errors"

	"github.com/discret-io/discret/privacy"
)

// Request asks for recommendations for one customer.
type Request struct {
	Customer         privacy.CustomerID
	Limit            int    // 1-MaxLimit; 0 means DefaultLimit
	Store            string // only items available there; empty means any
	Category         string // only items of this category; empty means any
	Exclude          []string
	ExcludePurchased bool
}

// Limits on Request.Limit.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Reason says why a response is not personalized.
type Reason int

// Reasons.
const (
	Personalized Reason = iota // the response is personalized
	NoConsent                  // no personalization consent
	NoHistory                  // no usable history in the model's catalogue
	NoModel                    // no model is loaded
)

// Item is one recommended item.
type Item struct {
	ID          string
	Score       float64
	Category    string
	Explanation string // e.g. "because you bought SKU-1"
	Because     string // the history item the explanation refers to
}

// Response is the answer to a Request.
type Response struct {
	Items        []Item
	ModelVersion string
	Reason       Reason // Personalized when the items are personalized
}

// SimilarRequest asks for the items closest to Item in the model's
// embedding space.
type SimilarRequest struct {
	Item  string
	Limit int // 1-MaxLimit; 0 means DefaultLimit
}

// PopularRequest asks for the differentially private popular items.
type PopularRequest struct {
	Store    string // popular in this store; empty means overall
	Category string // only items of this category; empty means any
	Limit    int    // 1-MaxLimit; 0 means DefaultLimit
}

// List is a non-personalized answer: similar or popular items.
type List struct {
	Items        []Item
	ModelVersion string
}

// Errors the engine returns; serve/rpc maps them to API errors.
var (
	// ErrNoModel: no model is loaded, so similar items cannot be computed.
	ErrNoModel = errors.New("recommend: no model is loaded")
	// ErrUnknownItem: the item is not in the current model's catalogue.
	ErrUnknownItem = errors.New("recommend: unknown item")
)
