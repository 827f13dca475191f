package telemetryd

// Version is this build's release, written into every snapshot.
const Version = "0.1.0"
