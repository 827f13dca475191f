package server

import (
	_ "embed"
	"net/http"
	"strconv"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/telemetry"
)

func (s *Server) handleListSnapshots(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := telemetry.ListRequest{
		StartDate: q.Get("start_date"),
		EndDate:   q.Get("end_date"),
		Limit:     telemetryd.DefaultLimit,
	}
	var err error
	if v := q.Get("limit"); v != "" {
		if req.Limit, err = strconv.Atoi(v); err != nil {
			req.Limit = -1 // out of range: the service names the parameter
		}
	}
	if v := q.Get("offset"); v != "" {
		if req.Offset, err = strconv.Atoi(v); err != nil {
			req.Offset = -1
		}
	}
	page, count, err := s.Telemetry.List(r.Context(), req, telemetry.RESTParams)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	writeListing(w, count, page)
}

// writeListing writes {"count": N, "snapshots": [...]}, the shape the
// established route's clients expect. It appends each record as stored
// rather than through encoding/json, which would scan every record's
// data again to compact it.
func writeListing(w http.ResponseWriter, count int, page []*telemetryd.Snapshot) {
	b := make([]byte, 0, 64+len(page)*5<<10)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"snapshots":[`...)
	for i, s := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.AppendJSON(b)
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) handleGetSnapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := s.Telemetry.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(snap.AppendJSON(nil), '\n'))
}

func (s *Server) handlePreview(w http.ResponseWriter, r *http.Request) {
	body, err := s.Telemetry.Preview(r.Context())
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// statusOf maps each domain error code to its HTTP status, in one place.
var statusOf = map[string]int{
	telemetryd.EINVALID:         http.StatusUnprocessableEntity,
	telemetryd.EUNAUTHENTICATED: http.StatusUnauthorized,
	telemetryd.EFORBIDDEN:       http.StatusForbidden,
	telemetryd.ENOTFOUND:        http.StatusNotFound,
	telemetryd.ECONFLICT:        http.StatusConflict,
	telemetryd.ETOOMANYREQUESTS: http.StatusTooManyRequests,
	telemetryd.EUNAVAILABLE:     http.StatusServiceUnavailable,
	telemetryd.EINTERNAL:        http.StatusInternalServerError,
}

// writeDomainError answers with the status of err's code; internal errors
// are logged and shown only as "internal error".
func (s *Server) writeDomainError(w http.ResponseWriter, r *http.Request, err error) {
	code := telemetryd.ErrorCode(err)
	status := statusOf[code]
	switch {
	case code == telemetryd.EINTERNAL:
		s.Logger.Error("request failed", "path", r.URL.Path, "err", err)
	case code == telemetryd.EUNAVAILABLE:
		s.Logger.Warn("request could not be served now", "path", r.URL.Path, "err", err)
	case code == telemetryd.EUNAUTHENTICATED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="telemetryd"`)
	case code == telemetryd.ETOOMANYREQUESTS:
		// Limits count over a minute; Infrahub's clients wait this long.
		w.Header().Set("Retry-After", "60")
	}
	writeError(w, status, telemetryd.ErrorMessage(err))
}

//go:embed openapi.json
var openAPI []byte

func handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
