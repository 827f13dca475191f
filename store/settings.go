package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// Setting keys.
const (
	keyDeploymentID = "deployment_id"
)

// DeploymentID returns the deployment's id, creating it once: every
// replica on one store reads the same id.
func DeploymentID(ctx context.Context, s Settings) (string, error) {
	id, err := s.SetSettingIfAbsent(ctx, keyDeploymentID, uuid.NewString())
	if err != nil {
		return "", fmt.Errorf("reading deployment id: %w", err)
	}
	return id, nil
}
