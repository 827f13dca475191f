package server

import (
	_ "embed"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
)

func (s *Server) handleListSnapshots(w http.ResponseWriter, r *http.Request) {
	f, err := snapshotFilter(r.URL.Query(), true)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	buf, _ := s.listings.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer s.listings.Put(buf)
	err = s.Telemetry.List(r.Context(), f, func(count int, page []*telemetryd.Snapshot) error {
		*buf = appendListing((*buf)[:0], count, page)
		return nil
	})
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(*buf)
	if cap(*buf) > maxKeptListingBuffer {
		*buf = nil
	}
}

// handleExport streams every snapshot matching the listing's filters as an
// export file: a JSON array, newest first, the format of
// exportfile.Encoder, written as the store yields records so memory stays
// bounded. The status is sent with the first bytes, so a failure after
// that cuts the connection: the client sees a broken transfer, never a
// short file that looks whole.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	f, err := snapshotFilter(r.URL.Query(), false)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	var enc *exportfile.Encoder
	begin := func() {
		if enc == nil {
			startExport(w, f)
			enc = exportfile.NewEncoder(w)
		}
	}
	rc := http.NewResponseController(w)
	err = s.Telemetry.Export(r.Context(), f, func(snap *telemetryd.Snapshot) error {
		begin()
		// A client that reads is given time; one that stalls is cut.
		_ = rc.SetWriteDeadline(time.Now().Add(RequestTimeout))
		return enc.Add(snap)
	})
	if err != nil && enc == nil {
		s.writeDomainError(w, r, err)
		return
	}
	if err != nil {
		s.Logger.Warn("export cut short", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
	begin()
	if err := enc.Close(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// startExport writes the headers of an export of f.
func startExport(w http.ResponseWriter, f telemetryd.Filter) {
	name := "telemetry-snapshots"
	if !f.Start.IsZero() {
		name += "-from-" + telemetryd.Day(f.Start)
	}
	if !f.End.IsZero() {
		name += "-to-" + telemetryd.Day(f.End)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".json"}))
	w.WriteHeader(http.StatusOK)
}

// appendListing appends {"count": N, "snapshots": [...]}, the shape the
// established route's clients expect, while the store lends the page. It
// appends each record as stored rather than through encoding/json, which
// would scan every record's data again to compact it, into a buffer kept
// for the next listing: pages are hundreds of kilobytes, and a fresh
// buffer each time costs more to allocate and clear than to fill.
func appendListing(b []byte, count int, page []*telemetryd.Snapshot) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"snapshots":[`...)
	for i, snap := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = snap.AppendJSON(b)
	}
	return append(b, "]}\n"...)
}

// maxKeptListingBuffer bounds the listing buffers kept for reuse: enough
// for pages of hundreds of typical records; larger pages are rare, and
// their buffers are left to the collector.
const maxKeptListingBuffer = 4 << 20

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
