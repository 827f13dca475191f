module github.com/telemetryd/telemetryd

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/gowebpki/jcs v1.0.2
)
