package store

import (
	"fmt"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// The rules of ImportSnapshots that do not depend on how a backend keeps
// its data live here, so the backends cannot drift apart on them.

// Batch returns snaps as the records argument of ImportSnapshots.
func Batch(snaps []*telemetryd.Snapshot) func(yield func(*telemetryd.Snapshot) error) error {
	return func(yield func(*telemetryd.Snapshot) error) error {
		for _, s := range snaps {
			if err := yield(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// ImportCheck checks an import batch on its own, one record at a time,
// before a backend compares each record with what it stores. It holds a
// few short fields per record, never the records themselves.
type ImportCheck struct {
	n         int
	invalid   []string
	conflicts []string
	ids       map[string]bool
	dayOwners map[deploymentDay]string
}

type deploymentDay struct{ deployment, day string }

// NewImportCheck returns a check that has seen no record.
func NewImportCheck() *ImportCheck {
	return &ImportCheck{ids: map[string]bool{}, dayOwners: map[deploymentDay]string{}}
}

// Add checks the next record of the batch and reports whether it may be
// stored: it must be a well-formed sealed record (telemetryd.Snapshot.Validate,
// which checks the checksum), and no earlier record of the batch may share
// its id, or its deployment and UTC day.
func (c *ImportCheck) Add(s *telemetryd.Snapshot) bool {
	c.n++
	if s == nil {
		c.invalid = append(c.invalid, fmt.Sprintf("record %d: empty", c.n))
		return false
	}
	if err := s.Validate(); err != nil {
		name := s.ID
		if name == "" {
			name = fmt.Sprintf("record %d", c.n)
		}
		c.invalid = append(c.invalid, name+": "+telemetryd.ErrorMessage(err))
		return false
	}
	if c.ids[s.ID] {
		c.conflicts = append(c.conflicts, s.ID+": appears twice in the import")
		return false
	}
	c.ids[s.ID] = true
	key := deploymentDay{s.DeploymentID, telemetryd.Day(s.CreatedAt)}
	if owner, ok := c.dayOwners[key]; ok {
		c.conflicts = append(c.conflicts, fmt.Sprintf("%s: deployment %s has snapshot %s on %s in the same import", s.ID, key.deployment, owner, key.day))
		return false
	}
	c.dayOwners[key] = s.ID
	return true
}

// Failed reports whether any record so far was refused, so the import
// will fail whatever the store holds.
func (c *ImportCheck) Failed() bool { return len(c.invalid)+len(c.conflicts) > 0 }

// Err is the verdict on the records added: EINVALID naming each malformed
// record, by id or, without one, by position, with its reasons; else
// ECONFLICT naming each later record of a pair that shares an id or a
// deployment day; else nil.
func (c *ImportCheck) Err() error {
	if len(c.invalid) > 0 {
		return telemetryd.Errorf(telemetryd.EINVALID, "nothing imported, %d invalid snapshots: %s", len(c.invalid), strings.Join(c.invalid, "; "))
	}
	if len(c.conflicts) > 0 {
		return ImportConflict(c.conflicts)
	}
	return nil
}

// ImportConflict is the ECONFLICT error of an import that stored nothing,
// naming each conflicting record with its reason ("<id>: <why>").
func ImportConflict(problems []string) error {
	return telemetryd.Errorf(telemetryd.ECONFLICT, "nothing imported, %d conflicting snapshots: %s", len(problems), strings.Join(problems, "; "))
}

// Identical reports whether a and b are the same sealed record: the same
// id and the same checksum, both valid, so their sealed members are the
// same content. The remote_send_* members change after sealing and are
// not compared: an import of a record identical to a stored one keeps
// the stored send status, which records what this deployment did with
// its copy.
func Identical(a, b *telemetryd.Snapshot) bool {
	return a.ID == b.ID && a.Checksum == b.Checksum && a.ChecksumValid() && b.ChecksumValid()
}
