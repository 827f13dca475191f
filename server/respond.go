package server

import (
	"encoding/json"
	"net/http"

	"github.com/telemetryd/telemetryd"
)

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the contract's REST error shape, shared with GraphQL.
type errorBody struct {
	Data   any           `json:"data"`
	Errors []errorDetail `json:"errors"`
}

type errorDetail struct {
	Message    string         `json:"message"`
	Extensions map[string]int `json:"extensions"`
}

// writeError writes the contract's error body; extensions.code is the
// HTTP status. Long messages are truncated (see telemetryd.ShownMessage).
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Errors: []errorDetail{{Message: telemetryd.ShownMessage(message), Extensions: map[string]int{"code": status}}}})
}
