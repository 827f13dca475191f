package telemetryd

// ProblemKind classifies an integrity failure.
type ProblemKind string

// The kinds of integrity failure a Verifier reports.
const (
	// ChecksumMismatch: the record's content does not match its checksum.
	ChecksumMismatch ProblemKind = "CHECKSUM_MISMATCH"
	// ChainBreak: a previous_checksum link does not match, or a record is
	// out of order.
	ChainBreak ProblemKind = "CHAIN_BREAK"
	// Corrupt: the record could not be read as a snapshot at all.
	Corrupt ProblemKind = "CORRUPT"
)

// Problem is one integrity failure found by a Verifier, by snapshot id.
type Problem struct {
	ID      string
	Kind    ProblemKind
	Message string
}

func (p Problem) String() string { return p.ID + ": " + p.Message }

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
		v.report(s.ID, ChecksumMismatch, "checksum mismatch: the content does not match checksum "+s.Checksum)
	}
	n, ok := v.newer[s.DeploymentID]
	switch {
	case !ok:
	case s.CreatedAt.After(n.CreatedAt):
		v.report(s.ID, ChainBreak, "out of order: created after "+n.ID+" but listed after it")
	case n.PreviousChecksum == "":
		v.report(n.ID, ChainBreak, "chain break: previous_checksum is null but older snapshot "+s.ID+" exists")
	case n.PreviousChecksum != s.Checksum:
		v.report(n.ID, ChainBreak, "chain break: previous_checksum does not match the checksum of "+s.ID)
	}
	v.newer[s.DeploymentID] = &Snapshot{ID: s.ID, CreatedAt: s.CreatedAt, PreviousChecksum: s.PreviousChecksum}
}

// ReportCorrupt records a record that could not be read as a snapshot,
// by its id or position, and counts it as checked.
func (v *Verifier) ReportCorrupt(id, reason string) {
	v.count++
	v.report(id, Corrupt, reason)
}

func (v *Verifier) report(id string, kind ProblemKind, message string) {
	v.problems = append(v.problems, Problem{ID: id, Kind: kind, Message: message})
}

// Count returns how many snapshots were checked.
func (v *Verifier) Count() int { return v.count }

// Problems returns every problem found, in the order found.
func (v *Verifier) Problems() []Problem { return v.problems }
