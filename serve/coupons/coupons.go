// Package coupons chooses in-store coupons for a customer who walks into a
// store: only with in_store consent, ranked by the customer's affinity and
// boosted by items related to their last purchases, under frequency caps.
// Without consent it returns the store's generic offers and records nothing.
//
// # Entering a store
//
// Engine.Enter pseudonymizes the customer and reads their consent record.
// A customer who consents to in_store (and to personalization, which every
// stored event needs: privacy.EventKind.Needs) has the visit recorded as a
// store_visit event through features/ingest, so the consent and retention
// rules of every other event apply. If a frequency cap is reached (by
// default at most 1 push per customer per store per day and 3 per week,
// rolling windows), the entry returns no new coupon and says which cap
// stopped it; if the customer was offered coupons in the same store within
// RepeatWindow, it offers the last of those again (Result.Repeated), so
// that an entry whose answer was lost can be retried. Otherwise the active coupons of the store, valid now, on
// items the catalogue has active in that store and not pushed to the
// customer within the longest cap window, are ranked by
//
//	score = u·v_item + Boost·max_{p ∈ recent purchases} cos(v_item, v_p)
//
// (the customer's affinity from their folded-in vector, plus how related
// the item is to one of their last purchases; serve/recommend computes
// both), and the best MaxOffers are offered, each with its explanation, and
// recorded as coupon pushes (features/store: customer data, exported and
// erased with the customer, kept only for the longest cap window).
//
// Anyone else gets the store's generic offers: the same coupons ranked by
// the DP popularity of their items in that store. Nothing is recorded and
// nothing about the customer is read beyond their consent record;
// Result.NotRecorded says which consent is missing, or that it was
// withdrawn while the entry was handled.
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

// NotRecorded says why an entry's visit was not recorded.
type NotRecorded int

// Reasons. A visit needs in_store consent, checked first, and
// personalization consent (privacy.EventKind.Needs).
const (
	Recorded                 NotRecorded = iota // the visit was recorded
	NoInStoreConsent                            // no in_store consent: never granted, or withdrawn
	NoPersonalizationConsent                    // in_store consent, but no personalization consent
	// ConsentWithdrawn: consent was withdrawn, or the customer erased,
	// while the entry was handled; the visit was not stored, or was erased
	// with the withdrawal.
	ConsentWithdrawn
)

// Result is the answer to an Entry.
type Result struct {
	Offers        []Offer
	Personalized  bool        // offers chosen for this customer
	VisitRecorded bool        // the visit was stored (in_store and personalization consent)
	NotRecorded   NotRecorded // why VisitRecorded is false; Recorded when it is true
	Capped        bool        // a frequency cap stopped new offers
	CapReason     string      // which cap, e.g. "at most 1 coupon push per customer per store per day"
	// Repeated is set when a cap stopped new offers but the customer was
	// offered coupons in the same store within RepeatWindow: Offers are
	// those coupons again (the ones still valid), not a new push. A retry
	// after a lost answer, or the customer coming back, gets them.
	Repeated     bool
	ModelVersion string
}

// RepeatWindow is how long the coupons offered to a customer in a store are
// offered again when a frequency cap stops new ones there (Result.Repeated).
const RepeatWindow = 24 * time.Hour
