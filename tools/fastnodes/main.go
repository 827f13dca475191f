// Command fastnodes hands the rendering of TelemetrySnapshot lists to
// graph.renderSnapshots: it puts a call to it at the top of the list
// marshaler gqlgen generates in graph/generated.go, which keeps its own
// body for the lists renderSnapshots declines. `make generate` runs it
// after gqlgen; running it again changes nothing.
package main

import (
	"bytes"
	"fmt"
	"os"
)

const (
	file      = "graph/generated.go"
	signature = "func (ec *executionContext) marshalNTelemetrySnapshot2ᚕᚖgithubᚗcomᚋtelemetrydᚋtelemetrydᚋgraphᚐSnapshotᚄ(ctx context.Context, sel ast.SelectionSet, v []*Snapshot) graphql.Marshaler {\n"
	hook      = "\tif m, ok := ec.renderSnapshots(ctx, sel, v); ok { // put here by tools/fastnodes: see graph/nodes.go\n\t\treturn m\n\t}\n"
)

func main() {
	src, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	at := bytes.Index(src, []byte(signature))
	if at < 0 {
		fail(fmt.Errorf("%s has no list marshaler for TelemetrySnapshot; has gqlgen changed its names?", file))
	}
	body := at + len(signature)
	if bytes.HasPrefix(src[body:], []byte(hook)) {
		return
	}
	out := append(append(append([]byte(nil), src[:body]...), hook...), src[body:]...)
	if err := os.WriteFile(file, out, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fastnodes:", err)
	os.Exit(1)
}
