package telemetryd

import "fmt"

// Problem is one integrity failure found by a Verifier, by snapshot id.
type Problem struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.ID + ": " + p.Reason }

// Verifier checks checksums and chains over snapshots fed newest first,
// the order of every listing and export, holding one link per deployment
// so any number of snapshots verify in constant memory.
//
// The oldest snapshot seen of a deployment anchors its chain: its
// previous_checksum is not checked, so a date-bounded export or a store
// pruned by retention verifies clean.
type Verifier struct {
	newer    map[string]*Snapshot // per deployment, the last snapshot seen
	problems []Problem
	count    int
}

// NewVerifier returns an empty Verifier.
func NewVerifier() *Verifier {
	return &Verifier{newer: make(map[string]*Snapshot)}
}

// Add checks s against its own checksum and against the next newer
// snapshot of its deployment.
func (v *Verifier) Add(s *Snapshot) {
	v.count++
	if !s.ChecksumValid() {
		v.report(s.ID, "checksum mismatch: content does not match checksum %s", s.Checksum)
	}
	n, ok := v.newer[s.DeploymentID]
	switch {
	case !ok:
	case s.CreatedAt.After(n.CreatedAt):
		v.report(s.ID, "out of order: created after %s although listed after it", n.ID)
	case n.PreviousChecksum == "":
		v.report(n.ID, "chain break: previous_checksum is null but older snapshot %s exists", s.ID)
	case n.PreviousChecksum != s.Checksum:
		v.report(n.ID, "chain break: previous_checksum does not match the checksum of %s", s.ID)
	}
	v.newer[s.DeploymentID] = &Snapshot{ID: s.ID, CreatedAt: s.CreatedAt, PreviousChecksum: s.PreviousChecksum}
}

func (v *Verifier) report(id, format string, args ...any) {
	v.problems = append(v.problems, Problem{ID: id, Reason: fmt.Sprintf(format, args...)})
}

// Count returns how many snapshots were checked.
func (v *Verifier) Count() int { return v.count }

// Problems returns every problem found, in the order found.
func (v *Verifier) Problems() []Problem { return v.problems }
