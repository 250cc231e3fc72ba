package auth

import (
	"fmt"
	"strings"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// Scope is a set of permissions an API key grants. Each permission is one
// bit; a key may hold several.
type Scope uint8

// Scopes.
const (
	// Recommend reads recommendations, similar and popular items, enters
	// stores and mints customer tokens: what a shop's or an in-store app's
	// back end needs.
	Recommend Scope = 1 << iota
	// Events writes customer events.
	Events
	// Consent reads and records customers' consent.
	Consent
	// Admin exports and erases customers, edits the catalogue and coupons,
	// and reads and trains models.
	Admin

	// All grants every scope (the demo key).
	All = Recommend | Events | Consent | Admin
)

// scopeNames lists the single scopes in display order.
var scopeNames = []struct {
	s    Scope
	name string
}{{Recommend, "recommend"}, {Events, "events"}, {Consent, "consent"}, {Admin, "admin"}}

// String returns the scope names joined by commas, e.g. "recommend,events".
func (s Scope) String() string {
	var names []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	if s&^All != 0 {
		names = append(names, fmt.Sprintf("scope(%#x)", uint8(s&^All)))
	}
	return strings.Join(names, ",")
}

// Names returns the names of the single scopes in s.
func (s Scope) Names() []string {
	var names []string
	for _, n := range scopeNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// Has reports whether s grants every permission in want.
func (s Scope) Has(want Scope) bool { return want != 0 && s&want == want }

// ParseScope parses a comma-separated list of scope names (recommend,
// events, consent, admin, or all for every one). Spaces around names are
// ignored; the list must not be empty.
func ParseScope(list string) (Scope, error) {
	var s Scope
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			s |= All
			continue
		}
		found := false
		for _, n := range scopeNames {
			if f == n.name {
				s |= n.s
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("auth: unknown scope %q (want recommend, events, consent, admin or all)", f)
		}
	}
	return s, nil
}

// methodScopes is the scope each RPC needs. A method missing from it is
// refused to every key (deny by default); a test checks that every method of
// the API is listed.
var methodScopes = map[string]Scope{
	discretv1.RecommendationService_Recommend_FullMethodName:           Recommend,
	discretv1.RecommendationService_SimilarItems_FullMethodName:        Recommend,
	discretv1.RecommendationService_PopularItems_FullMethodName:        Recommend,
	discretv1.RecommendationService_CreateCustomerToken_FullMethodName: Recommend,
	discretv1.RecommendationService_RevokeCustomerToken_FullMethodName: Recommend,
	discretv1.StoreService_EnterStore_FullMethodName:                   Recommend,
	discretv1.EventService_WriteEvents_FullMethodName:                  Events,
	discretv1.ConsentService_GetConsent_FullMethodName:                 Consent,
	discretv1.ConsentService_SetConsent_FullMethodName:                 Consent,
	discretv1.AdminService_ExportCustomer_FullMethodName:               Admin,
	discretv1.AdminService_ForgetCustomer_FullMethodName:               Admin,
	discretv1.AdminService_UpsertItem_FullMethodName:                   Admin,
	discretv1.AdminService_UpsertCoupon_FullMethodName:                 Admin,
	discretv1.AdminService_GetCurrentModel_FullMethodName:              Admin,
	discretv1.AdminService_TrainModel_FullMethodName:                   Admin,
	discretv1.AdminService_CreateApiKey_FullMethodName:                 Admin,
	discretv1.AdminService_ListApiKeys_FullMethodName:                  Admin,
	discretv1.AdminService_RevokeApiKey_FullMethodName:                 Admin,
	discretv1.AdminService_ListAuditEntries_FullMethodName:             Admin,
	discretv1.AdminService_SearchAuditEntries_FullMethodName:           Admin,
}

// tokenMethods are the methods a customer token may call; true marks those
// whose request's customer must be the token's. A method missing from it is
// refused to every customer token; a test checks that every method it
// admits whose request names a customer is bound.
var tokenMethods = map[string]bool{
	discretv1.RecommendationService_Recommend_FullMethodName:    true,
	discretv1.StoreService_EnterStore_FullMethodName:            true,
	discretv1.RecommendationService_SimilarItems_FullMethodName: false,
	discretv1.RecommendationService_PopularItems_FullMethodName: false,
	// Only itself, which RevokeCustomerToken checks.
	discretv1.RecommendationService_RevokeCustomerToken_FullMethodName: false,
}

// publicMethods need no API key: health checks and server reflection,
// which reveal nothing but the API's schema (also published at
// /openapi.json).
var publicMethods = map[string]bool{
	"/grpc.health.v1.Health/Check":                                   true,
	"/grpc.health.v1.Health/Watch":                                   true,
	"/grpc.health.v1.Health/List":                                    true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// MethodScope returns the scope that the gRPC method (its full name,
// "/discret.v1.EventService/WriteEvents") needs, and false if the method is
// not in the table, in which case no key may call it.
func MethodScope(fullMethod string) (Scope, bool) {
	s, ok := methodScopes[fullMethod]
	return s, ok
}

// CustomerTokenMethod reports whether a customer token may call the gRPC
// method, and whether the request's customer must then be the one the
// token is bound to.
func CustomerTokenMethod(fullMethod string) (allowed, bound bool) {
	bound, allowed = tokenMethods[fullMethod]
	return allowed, bound
}

// IsPublic reports whether the gRPC method may be called without an API
// key.
func IsPublic(fullMethod string) bool { return publicMethods[fullMethod] }
