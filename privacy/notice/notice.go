// Package notice states the facts that an answer to a data-subject access
// request must give beside the data itself (GDPR art. 15(1)(a)-(h)): the
// purposes, the categories of data, the recipients, how long each category
// is kept, the customer's rights and where the data came from. `discret
// export` and the API's ExportCustomer attach it to every export, from the
// retention policy and consent defaults in force, so that the answer a
// customer receives is complete without a separate letter.
package notice

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/discret-io/discret/privacy"
	"github.com/discret-io/discret/privacy/consent"
	"github.com/discret-io/discret/privacy/retention"
)

// Notice is the processing information of an export. Field names are its
// JSON form.
type Notice struct {
	Controller string    `json:"controller"`
	Purposes   []Purpose `json:"purposes"`
	Categories []string  `json:"categories"`
	Recipients string    `json:"recipients"`
	Retention  []Rule    `json:"retention"`
	Source     string    `json:"source"`
	Rights     string    `json:"rights"`
	Profiling  string    `json:"profiling"`
}

// Purpose is one purpose of processing and what it needs.
type Purpose struct {
	Name        string `json:"name"` // the privacy.Purpose wire name
	Description string `json:"description"`
	// Default is the decision for a customer who never chose: "consent
	// required" (opt-in) or "allowed unless withdrawn" (opt-out).
	Default string `json:"default"`
}

// Rule is how long one category of data is kept.
type Rule struct {
	Data   string `json:"data"`
	Period string `json:"period"`
}

// Purpose descriptions, in the words customers are asked to consent to.
var descriptions = map[privacy.Purpose]string{
	privacy.Personalization: "use your purchase, basket, product-view and store-visit history to train recommendation models and to personalize the products recommended to you",
	privacy.InStore:         "recognize your visits to our stores and offer you coupons there (needs personalization too)",
}

// kindNames are the categories of events, in words.
var kindNames = map[privacy.EventKind]string{
	privacy.View:       "product views",
	privacy.AddToCart:  "products added to your basket",
	privacy.Purchase:   "purchases",
	privacy.StoreVisit: "store visits",
}

// For returns the notice under retention policy p, consent defaults d
// and audit, the retention period of the audit trail in force (zero means
// retention.DefaultAudit, as for the store).
func For(p retention.Policy, d consent.Defaults, audit retention.Period) Notice {
	audit = cmp.Or(audit, retention.DefaultAudit)
	n := Notice{
		Controller: "the retailer that sent you this answer; Discret is the software that holds this data on its behalf",
		Categories: []string{
			"your consent choices (purpose, decision, time, channel)",
			"events: purchases, products added to your basket, product views and store visits (product, store, time, quantity), stored only while your consent allows them",
			"coupons offered to you in stores",
		},
		Recipients: "none: the data stays in the retailer's systems and is not sent to anyone else; recommendation models are trained with differential privacy, so that no one customer's data can be recognized in them",
		Source:     "the retailer's own systems (online shop, app, tills, loyalty programme), which send your events and your consent choices; the channel of each choice is in its source field",
		Rights:     rights,
		Profiling:  "your recommendations and coupons are computed from your own history; they have no legal or similarly significant effect on you",
	}
	for _, pp := range privacy.Purposes {
		def := "consent required"
		if d.For(pp) {
			def = "allowed unless you object (withdraw)"
		}
		n.Purposes = append(n.Purposes, Purpose{Name: pp.String(), Description: descriptions[pp], Default: def})
	}
	for _, k := range privacy.EventKinds {
		n.Retention = append(n.Retention, Rule{Data: kindNames[k], Period: words(p.Period(k)) + " from the event's date"})
	}
	n.Retention = append(n.Retention,
		Rule{Data: "consent choices", Period: "until you ask for erasure"},
		Rule{Data: "coupons offered", Period: "7 days from the offer: as long as the limits on how often we offer coupons need"},
		Rule{Data: "the date of your erasure, if you asked for one (under a one-way code, with nothing else)", Period: "indefinitely: it keeps data dated at or before your erasure from being collected again"},
		Rule{Data: "the record of each export or erasure of your data, and of each model deleted with it (time, action, channel; listed under audit in this export)", Period: words(audit) + " from the action, also after an erasure: it proves that your request was carried out"},
	)
	return n
}

// rights states the customer's rights (GDPR art. 15-18, 20, 21, 7(3),
// 77) and how Discret serves each.
const rights = "" +
	"Access and portability: this export is a copy of your data. " +
	"Rectification: stored events cannot be edited; an event sent again with the same product, store, time and type replaces the stored one (a corrected quantity, for instance); any other wrong event can only be removed with all your events, by withdrawing your consent to personalization (the correct events can then be sent again once you consent again) or by an erasure (after which only events dated after it are stored). " +
	"Withdrawal, objection and restriction: you can withdraw your consent to each purpose at any time, which is also how you object to it or restrict it: its use stops at once and the data it needs is erased at once (for personalization, your events and the coupons offered to you; for in-store coupons, your store visits and the coupons offered to you); your data is not kept unused. " +
	"Erasure: you can have all your data erased; after an erasure only its date is kept, so that older records are not collected again. " +
	"You may also complain to your data-protection authority"

// words writes p for a reader: "13 months", "1 year 6 months".
func words(p retention.Period) string {
	var parts []string
	for _, u := range []struct {
		n    int
		name string
	}{{p.Years, "year"}, {p.Months, "month"}, {p.Days, "day"}} {
		switch {
		case u.n == 1:
			parts = append(parts, "1 "+u.name)
		case u.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", u.n, u.name))
		}
	}
	return strings.Join(parts, " ")
}
