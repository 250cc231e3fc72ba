// Package coupons chooses in-store coupons for a customer who walks into a
// store: only with in_store consent, ranked by the customer's affinity and
// boosted by items related to their last purchases, under frequency caps.
// Without consent it returns the store's generic offers and records nothing.
package coupons

import (
	"time"

	"github.com/discret-io/discret/privacy"
)

// Entry is a customer entering a store.
type Entry struct {
	Store    string
	Customer privacy.CustomerID
}

// MaxOffers is the most coupons returned for one entry.
const MaxOffers = 3

// Offer is a coupon offered to a customer.
type Offer struct {
	Coupon      string
	Item        string
	Value       string
	ValidUntil  time.Time
	Explanation string
	Score       float64
}

// Result is the answer to an Entry.
type Result struct {
	Offers        []Offer
	Personalized  bool   // offers chosen for this customer
	VisitRecorded bool   // the visit was stored (in_store consent)
	Capped        bool   // a frequency cap stopped new offers
	CapReason     string // which cap, e.g. "1 per store per day"
	ModelVersion  string
}
