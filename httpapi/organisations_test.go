package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrganisationLifecycle(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	r := n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme Corp", "description": "widgets"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	org := r.json(t)
	assert.Equal(t, "acme", org["slug"])
	assert.Equal(t, "Acme Corp", org["name"])
	assert.Equal(t, "SHARED", org["type"], "the default type")
	assert.NotEmpty(t, org["id"])

	assert.Equal(t, org, n.do(t, http.MethodGet, "/api/v1/organisations/acme", nil).json(t))
	personal := n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "me", "name": "Me", "type": "personal"})
	require.Equal(t, http.StatusCreated, personal.status)
	assert.Equal(t, "PERSONAL", personal.json(t)["type"])
	list := n.do(t, http.MethodGet, "/api/v1/organisations", nil).list(t)
	require.Len(t, list, 2)
	assert.Equal(t, "acme", list[0]["slug"])

	upd := n.do(t, http.MethodPut, "/api/v1/organisations/acme", map[string]any{"description": "gadgets"})
	require.Equal(t, http.StatusOK, upd.status)
	assert.Equal(t, "gadgets", upd.json(t)["description"])
	assert.Equal(t, "Acme Corp", upd.json(t)["name"])

	// Flows of the organisation, addressed by its slug.
	n.createFlow(t, map[string]any{"name": "svc", "orgSlug": "acme"})
	n.createFlow(t, map[string]any{"name": "other", "orgSlug": "me"})
	flows := n.do(t, http.MethodGet, "/api/v1/organisations/acme/flows", nil).list(t)
	require.Len(t, flows, 1)
	assert.Equal(t, "svc", flows[0]["name"])
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/organisations/nope/flows", nil), http.StatusNotFound)

	// An organisation that still has flows cannot be deleted; nothing is appended.
	before := n.head(t)
	requireErrorBody(t, n.do(t, http.MethodDelete, "/api/v1/organisations/acme", nil), http.StatusConflict)
	assert.Equal(t, before, n.head(t))
	require.Equal(t, http.StatusNoContent, n.do(t, http.MethodDelete, "/api/v1/flows/"+flows[0]["id"].(string), nil).status)
	require.Equal(t, http.StatusNoContent, n.do(t, http.MethodDelete, "/api/v1/organisations/acme", nil).status)
	requireErrorBody(t, n.do(t, http.MethodGet, "/api/v1/organisations/acme", nil), http.StatusNotFound)
	// The slug is free again; the history stays in the ledger.
	require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "acme", "name": "Acme 2"}).status)
	entries := n.do(t, http.MethodGet, "/api/v1/ledger/entries/acme", nil).list(t)
	assert.Len(t, entries, 4, "created, updated, deleted, created")
	audit := n.do(t, http.MethodGet, "/api/v1/audit?eventType=ORGANISATION_DELETED", nil).json(t)
	assert.InDelta(t, 1, audit["totalElements"], 0)
}

func TestOrganisationBadInput(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	require.Equal(t, http.StatusCreated, n.do(t, http.MethodPost, "/api/v1/organisations", map[string]any{"slug": "taken", "name": "T"}).status)
	cases := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"malformed", http.MethodPost, "/api/v1/organisations", `{"slug":`, http.StatusBadRequest},
		{"wrong type", http.MethodPost, "/api/v1/organisations", `{"slug":"a","name":7}`, http.StatusBadRequest},
		{"missing slug", http.MethodPost, "/api/v1/organisations", `{"name":"a"}`, http.StatusBadRequest},
		{"missing name", http.MethodPost, "/api/v1/organisations", `{"slug":"a"}`, http.StatusBadRequest},
		{"upper-case slug", http.MethodPost, "/api/v1/organisations", `{"slug":"Acme","name":"a"}`, http.StatusBadRequest},
		{"slug with space", http.MethodPost, "/api/v1/organisations", `{"slug":"a b","name":"a"}`, http.StatusBadRequest},
		{"slug with dot", http.MethodPost, "/api/v1/organisations", `{"slug":"a.b","name":"a"}`, http.StatusBadRequest},
		{"slug too long", http.MethodPost, "/api/v1/organisations", map[string]any{"slug": strings.Repeat("a", 64), "name": "a"}, http.StatusBadRequest},
		{"leading hyphen", http.MethodPost, "/api/v1/organisations", `{"slug":"-a","name":"a"}`, http.StatusBadRequest},
		{"bad type", http.MethodPost, "/api/v1/organisations", `{"slug":"a","name":"a","type":"PUBLIC"}`, http.StatusBadRequest},
		{"duplicate", http.MethodPost, "/api/v1/organisations", `{"slug":"taken","name":"a"}`, http.StatusConflict},
		{"oversized", http.MethodPost, "/api/v1/organisations", `{"slug":"a","name":"` + strings.Repeat("n", 2<<20) + `"}`, http.StatusRequestEntityTooLarge},
		{"update unknown", http.MethodPut, "/api/v1/organisations/nope", `{"name":"x"}`, http.StatusNotFound},
		{"update slug", http.MethodPut, "/api/v1/organisations/taken", `{"slug":"other"}`, http.StatusBadRequest},
		{"update blank name", http.MethodPut, "/api/v1/organisations/taken", `{"name":" "}`, http.StatusBadRequest},
		{"update null", http.MethodPut, "/api/v1/organisations/taken", "\nnull", http.StatusBadRequest},
		{"get unknown", http.MethodGet, "/api/v1/organisations/nope", nil, http.StatusNotFound},
		{"delete unknown", http.MethodDelete, "/api/v1/organisations/nope", nil, http.StatusNotFound},
	}
	before := n.head(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireErrorBody(t, n.do(t, tc.method, tc.path, tc.body), tc.status)
		})
	}
	assert.Equal(t, before, n.head(t), "rejected commands append nothing")
}
