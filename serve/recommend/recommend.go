// Package recommend answers what to show a customer: personalized
// recommendations folded in from the customer's own consented history against
// the current differentially private release, similar items from the item
// embeddings, and the DP popular list as the non-personalized fallback.
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
