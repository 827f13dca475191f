package graph

import (
	"bytes"
	"context"
	"io"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// renderSnapshots renders a list of TelemetrySnapshot, such as a page's
// nodes, without gqlgen's executor: the generated list marshaler calls it
// first (tools/fastnodes puts the call there when `make generate` runs)
// and does the work itself only when this declines.
//
// gqlgen's executor resolves every field of every record on its own: a
// field context, a middleware chain, a recover and a marshaler each, about
// a dozen allocations a field, 650 fields for a page of 50, where the
// records themselves are already in memory and none of their fields can
// fail. This collects the selected fields once for the whole list, as the
// executor does for each record (fragments, aliases, @skip and @include
// included), and writes each record's fields in that order through the
// generated marshalers the executor would call, so the bytes are the
// same. It declines, leaving the list to the executor, when a field is
// deferred (@defer) or unknown, or a record or its data is missing, so every error
// path stays gqlgen's. TestNodesRenderAsTheExecutorDoes compares both.
func (ec *executionContext) renderSnapshots(ctx context.Context, sel ast.SelectionSet, v []*Snapshot) (graphql.Marshaler, bool) {
	fields := graphql.CollectFields(ec.OperationContext, sel, telemetrySnapshotImplementors)
	// Each member's renderer, and its name quoted, once for the whole list.
	type member struct {
		field  graphql.CollectedField
		name   []byte
		render snapshotField
	}
	members := make([]member, len(fields))
	for i, f := range fields {
		render := snapshotFields[f.Name]
		if f.IsDeferred() || render == nil {
			return nil, false
		}
		var b bytes.Buffer
		graphql.MarshalString(f.Alias).MarshalGQL(&b)
		members[i] = member{f, append(b.Bytes(), ':'), render}
	}
	for _, s := range v {
		if s == nil || s.Snapshot == nil || s.Data == nil {
			return nil, false
		}
	}
	return graphql.WriterFunc(func(w io.Writer) {
		w.Write([]byte{'['})
		for i, s := range v {
			if i > 0 {
				w.Write([]byte{','})
			}
			w.Write([]byte{'{'})
			for j, m := range members {
				if j > 0 {
					w.Write([]byte{','})
				}
				w.Write(m.name)
				m.render(ec, ctx, m.field, s).MarshalGQL(w)
			}
			w.Write([]byte{'}'})
		}
		w.Write([]byte{']'})
	}), true
}

// snapshotField renders one field of a record.
type snapshotField func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler

// snapshotFields renders each field of TelemetrySnapshot from a record,
// with the marshaler gqlgen's executor uses for it.
var snapshotFields = map[string]snapshotField{
	"__typename": func(*executionContext, context.Context, graphql.CollectedField, *Snapshot) graphql.Marshaler {
		return graphql.MarshalString("TelemetrySnapshot")
	},
	"id": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNID2string(ctx, f.Selections, s.ID)
	},
	"createdAt": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNDateTime2timeᚐTime(ctx, f.Selections, s.CreatedAt)
	},
	"kind": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNString2string(ctx, f.Selections, s.Kind)
	},
	"payloadFormat": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNString2string(ctx, f.Selections, s.PayloadFormat)
	},
	"deploymentId": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNString2string(ctx, f.Selections, s.DeploymentID)
	},
	"version": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNString2string(ctx, f.Selections, s.Version)
	},
	"data": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNJSON2encodingᚋjsonᚐRawMessage(ctx, f.Selections, s.Data)
	},
	"checksum": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNString2string(ctx, f.Selections, s.Checksum)
	},
	"previousChecksum": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalOString2ᚖstring(ctx, f.Selections, s.NullablePreviousChecksum())
	},
	"checksumValid": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNBoolean2bool(ctx, f.Selections, s.Valid)
	},
	"remoteSendStatus": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalNRemoteSendStatus2githubᚗcomᚋtelemetrydᚋtelemetrydᚐSendStatus(ctx, f.Selections, s.RemoteSendStatus)
	},
	"remoteSendAt": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalODateTime2ᚖgithubᚗcomᚋtelemetrydᚋtelemetrydᚋgraphᚐDateTime(ctx, f.Selections, s.NullableRemoteSendAt())
	},
	"remoteSendError": func(ec *executionContext, ctx context.Context, f graphql.CollectedField, s *Snapshot) graphql.Marshaler {
		return ec.marshalOString2ᚖstring(ctx, f.Selections, s.NullableRemoteSendError())
	},
}
