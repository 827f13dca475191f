module github.com/telemetryd/telemetryd

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/gowebpki/jcs v1.0.2
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
