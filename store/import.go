package store

import (
	"fmt"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// The rules of ImportSnapshots that do not depend on how a backend keeps
// its data live here, so the backends cannot drift apart on them.

// CheckImport checks an import batch on its own, before a backend compares
// it with what it stores. Every record must be a well-formed sealed record
// (telemetryd.Snapshot.Validate, which checks the checksum): otherwise
// EINVALID naming each bad record, by id or, without one, by position,
// with its reasons. Then no two records may share an id, or a deployment
// and UTC day: otherwise ECONFLICT naming each later record of such a
// pair.
func CheckImport(snaps []*telemetryd.Snapshot) error {
	var invalid []string
	for i, s := range snaps {
		if s == nil {
			invalid = append(invalid, fmt.Sprintf("record %d: empty", i+1))
			continue
		}
		if err := s.Validate(); err != nil {
			name := s.ID
			if name == "" {
				name = fmt.Sprintf("record %d", i+1)
			}
			invalid = append(invalid, name+": "+telemetryd.ErrorMessage(err))
		}
	}
	if len(invalid) > 0 {
		return telemetryd.Errorf(telemetryd.EINVALID, "nothing imported, %d invalid snapshots: %s", len(invalid), strings.Join(invalid, "; "))
	}

	var conflicts []string
	ids := make(map[string]bool, len(snaps))
	type deploymentDay struct{ deployment, day string }
	dayOwners := make(map[deploymentDay]string, len(snaps))
	for _, s := range snaps {
		if ids[s.ID] {
			conflicts = append(conflicts, s.ID+": appears twice in the import")
			continue
		}
		ids[s.ID] = true
		key := deploymentDay{s.DeploymentID, telemetryd.Day(s.CreatedAt)}
		if owner, ok := dayOwners[key]; ok {
			conflicts = append(conflicts, fmt.Sprintf("%s: deployment %s has snapshot %s on %s in the same import", s.ID, key.deployment, owner, key.day))
			continue
		}
		dayOwners[key] = s.ID
	}
	if len(conflicts) > 0 {
		return ImportConflict(conflicts)
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
