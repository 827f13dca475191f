package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/server"
)

// TestOpenAPIDocumentMatchesTheServer validates the served document, then
// checks real answers of the running server against it, so the document
// cannot drift from the routes.
func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	e := start(t)
	snaps := e.seed(3, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	reader := e.account("reader", "telemetry-reader")
	nobody := e.account("nobody")

	res := e.get("/api/openapi.json", "")
	require.Equal(t, http.StatusOK, res.status)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(res.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background(), openapi3.IsOpenAPI31OrLater()))
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	assert.ElementsMatch(t, server.Routes(), documented, "every REST route is documented, and only those")

	cases := []struct {
		name, path, token string
		status            int
	}{
		{"a listing", "/api/telemetry/snapshots?limit=2&start_date=2026-04-01", reader, http.StatusOK},
		{"an empty listing", "/api/telemetry/snapshots?start_date=2030-01-01", reader, http.StatusOK},
		{"a bad parameter", "/api/telemetry/snapshots?limit=0", reader, http.StatusUnprocessableEntity},
		{"no token", "/api/telemetry/snapshots", "", http.StatusUnauthorized},
		{"no permission", "/api/telemetry/snapshots", nobody, http.StatusForbidden},
		{"one snapshot", "/api/telemetry/snapshots/" + snaps[0].ID, reader, http.StatusOK},
		{"an unknown snapshot", "/api/telemetry/snapshots/0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b", reader, http.StatusNotFound},
		{"the preview", "/api/telemetry/preview", reader, http.StatusOK},
		{"a listing by deployment and status", "/api/telemetry/snapshots?deployment_id=dep-test&status=pending,failed", reader, http.StatusOK},
		{"an export", "/api/telemetry/export?end_date=2026-04-02&status=pending", reader, http.StatusOK},
		{"an empty export", "/api/telemetry/export?deployment_id=nobody", reader, http.StatusOK},
		{"an export with a limit", "/api/telemetry/export?limit=5", reader, http.StatusUnprocessableEntity},
		{"an export without permission", "/api/telemetry/export", nobody, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.url+tc.path, nil)
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			res := e.do(req)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)

			route, params, err := router.FindRoute(req)
			require.NoError(t, err)
			input := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			if tc.status != http.StatusUnprocessableEntity {
				require.NoError(t, openapi3filter.ValidateRequest(context.Background(), input))
			}
			require.NoError(t, openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: input,
				Status:                 res.status,
				Header:                 res.header,
				Body:                   io.NopCloser(bytes.NewReader(res.body)),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}},
			}))
		})
	}
}
