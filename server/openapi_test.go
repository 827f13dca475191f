package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// TestOpenAPIDocumentMatchesTheServer validates the served document, then
// checks real answers of the running server against it, so the document
// cannot drift from the routes.
func TestOpenAPIDocumentMatchesTheServer(t *testing.T) {
	e := startWith(t, embeddedStore(t), options{receive: true})
	snaps := e.seed(3, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	received := storetest.NewSnapshot(t, "dep-fleet", time.Now(), nil, 200)
	tampered := storetest.NewSnapshot(t, "dep-tampered", time.Now(), nil, 200)
	tampered.Version = "9.9.9"
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

	refresh := e.restLogin("admin", adminPassword).RefreshToken
	spent := e.restLogin("admin", adminPassword).RefreshToken
	e.post("/api/auth/logout", "Bearer "+spent, "")

	cases := []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
	}{
		{"a listing", "GET", "/api/telemetry/snapshots?limit=2&start_date=2026-04-01", bearer(reader), "", http.StatusOK},
		{"an empty listing", "GET", "/api/telemetry/snapshots?start_date=2030-01-01", bearer(reader), "", http.StatusOK},
		{"a bad parameter", "GET", "/api/telemetry/snapshots?limit=0", bearer(reader), "", http.StatusUnprocessableEntity},
		{"no token", "GET", "/api/telemetry/snapshots", nil, "", http.StatusUnauthorized},
		{"no permission", "GET", "/api/telemetry/snapshots", bearer(nobody), "", http.StatusForbidden},
		{"one snapshot", "GET", "/api/telemetry/snapshots/" + snaps[0].ID, bearer(reader), "", http.StatusOK},
		{"an unknown snapshot", "GET", "/api/telemetry/snapshots/0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b", bearer(reader), "", http.StatusNotFound},
		{"the preview", "GET", "/api/telemetry/preview", bearer(reader), "", http.StatusOK},
		{"a login", "POST", "/api/auth/login", jsonBody, `{"username": "reader", "password": "` + adminPassword + `"}`, http.StatusOK},
		{"a wrong password", "POST", "/api/auth/login", jsonBody, `{"username": "reader", "password": "wrong password!!"}`, http.StatusUnauthorized},
		{"a login without password", "POST", "/api/auth/login", jsonBody, `{"username": "reader"}`, http.StatusUnprocessableEntity},
		{"a login as a form", "POST", "/api/auth/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `username=reader`, http.StatusUnsupportedMediaType},
		{"a refresh", "POST", "/api/auth/refresh", bearer(refresh), "", http.StatusOK},
		{"a refresh with the cookie", "POST", "/api/auth/refresh", map[string]string{"Cookie": server.RefreshCookie + "=" + refresh}, "", http.StatusOK},
		{"a refresh of an ended session", "POST", "/api/auth/refresh", bearer(spent), "", http.StatusUnauthorized},
		{"a logout", "POST", "/api/auth/logout", bearer(refresh), "", http.StatusOK},
		{"a logout without a session", "POST", "/api/auth/logout", nil, "", http.StatusOK},
		{"a received snapshot", "POST", "/v1/snapshots", jsonBody, string(received.RemoteBody()), http.StatusCreated},
		{"a snapshot received again", "POST", "/v1/snapshots", jsonBody, string(received.RemoteBody()), http.StatusOK},
		{"a tampered snapshot", "POST", "/v1/snapshots", jsonBody, string(tampered.RemoteBody()), http.StatusUnprocessableEntity},
		{"a second snapshot of the day", "POST", "/v1/snapshots", jsonBody, string(storetest.NewSnapshot(t, "dep-fleet", time.Now(), nil, 10).RemoteBody()), http.StatusConflict},
		{"a listing by deployment and status", "GET", "/api/telemetry/snapshots?deployment_id=dep-test&status=pending,failed", bearer(reader), "", http.StatusOK},
		{"an export", "GET", "/api/telemetry/export?end_date=2026-04-02&status=pending", bearer(reader), "", http.StatusOK},
		{"an empty export", "GET", "/api/telemetry/export?deployment_id=nobody", bearer(reader), "", http.StatusOK},
		{"an export with a limit", "GET", "/api/telemetry/export?limit=5", bearer(reader), "", http.StatusUnprocessableEntity},
		{"an export without permission", "GET", "/api/telemetry/export", bearer(nobody), "", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res := e.do(req)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			req.Body = io.NopCloser(strings.NewReader(tc.body)) // read again by the validation

			route, params, err := router.FindRoute(req)
			require.NoError(t, err)
			input := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			if tc.status != http.StatusUnprocessableEntity && tc.status != http.StatusUnsupportedMediaType {
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

var jsonBody = map[string]string{"Content-Type": "application/json"}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}
