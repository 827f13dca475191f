package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
)

// Limits on what one request may ask for, refused before anything runs.
const (
	// MaxComplexity bounds a request's cost: list fields cost their limit,
	// so about 20,000 records in all, other fields 1.
	MaxComplexity = 20_000 + 500
	// MaxDepth bounds how deeply selections nest.
	MaxDepth = 15
	// MaxTokens bounds how many tokens the parser reads.
	MaxTokens = 10_000
)

// NewHandler returns the GraphQL endpoint: POST and GET only (multipart
// and form posts invite CSRF), with cost, depth and parser limits, field
// suggestions off, introspection for signed-in callers only, and every
// error shown through one presenter. Permissions are the services'
// business; the schema's directives only document them.
func NewHandler(r *Resolver, logger *slog.Logger, reg prometheus.Registerer) (http.Handler, error) {
	r.checksums = newChecksumVerdicts()
	cfg := Config{Resolvers: r}
	cfg.Complexity.Query.TelemetrySnapshots = func(child int, _, _ *DateTime, _ *string, _ []telemetryd.SendStatus, limit, _ *int) int {
		return orDefault(limit, telemetryd.DefaultLimit) + child
	}
	cfg.Complexity.Query.Deployments = func(child int, limit, _ *int, _ *DateTime) int {
		return orDefault(limit, fleet.DefaultDeploymentsLimit) + child
	}
	// A check reads every snapshot in its bounds: priced as a full page.
	cfg.Complexity.Query.TelemetryIntegrity = func(child int, _, _ *DateTime, _ *string) int {
		return telemetryd.MaxLimit + child
	}

	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(MaxTokens)
	srv.SetDisableSuggestion(true)
	srv.Use(extension.Introspection{})
	srv.Use(introspectionForSignedIn{})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(depthLimit{max: MaxDepth})
	srv.Use(oneCredentialCheck{})
	srv.SetErrorPresenter(presenter(logger))
	operations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "telemetryd_graphql_operations_total",
		Help: "GraphQL operations by type (query, mutation) and outcome (ok, error).",
	}, []string{"type", "outcome"})
	if err := reg.Register(operations); err != nil {
		return nil, err
	}
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		opType := "unknown"
		if graphql.HasOperationContext(ctx) {
			if op := graphql.GetOperationContext(ctx).Operation; op != nil {
				opType = string(op.Operation)
			}
		}
		outcome := "ok"
		if resp == nil || len(resp.Errors) > 0 {
			outcome = "error"
		}
		operations.WithLabelValues(opType, outcome).Inc()
		return resp
	})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		logger.Error("graphql resolver panicked", "panic", v, "path", graphql.GetPath(ctx).String())
		return errors.New("internal error")
	})
	return srv, nil
}

// contractCodes are the extensions.code values clients may see.
var contractCodes = []string{
	telemetryd.EUNAUTHENTICATED, telemetryd.EFORBIDDEN, telemetryd.EINVALID, telemetryd.ENOTFOUND,
	telemetryd.ECONFLICT, telemetryd.ETOOMANYREQUESTS, telemetryd.EUNAVAILABLE, telemetryd.EINTERNAL,
}

// presenter maps domain error codes to extensions.code and hides internal
// errors, logging them with their path.
func presenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var domainErr *telemetryd.Error
		var parsed *gqlerror.Error
		switch {
		case errors.As(err, &domainErr):
			gqlErr.Message = domainErr.Message
		case errors.As(err, &parsed) && parsed.Err == nil:
			// gqlgen's own parse, validation and limit errors: safe to
			// show, and all the caller's to mend.
			if code, _ := gqlErr.Extensions["code"].(string); !slices.Contains(contractCodes, code) {
				if gqlErr.Extensions == nil {
					gqlErr.Extensions = map[string]any{}
				}
				gqlErr.Extensions["code"] = telemetryd.EINVALID
			}
			return gqlErr
		default:
			logger.Error("graphql request failed", "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = "internal error"
		}
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = telemetryd.ErrorCode(err)
		return gqlErr
	}
}

// introspectionForSignedIn refuses introspection to anonymous callers, so
// the schema is not handed to anyone who asks.
type introspectionForSignedIn struct{}

var _ graphql.OperationContextMutator = introspectionForSignedIn{}

func (introspectionForSignedIn) ExtensionName() string                   { return "IntrospectionForSignedIn" }
func (introspectionForSignedIn) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionForSignedIn) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if _, ok := auth.FromContext(ctx); ok {
		return nil
	}
	oc.DisableIntrospection = true
	if countFields(oc.Operation.SelectionSet, "__schema", "__type") > 0 {
		err := gqlerror.Errorf("introspection needs a signed-in caller")
		err.Extensions = map[string]any{"code": telemetryd.EUNAUTHENTICATED}
		return err
	}
	return nil
}

// depthLimit refuses operations whose selections nest deeper than max.
type depthLimit struct{ max int }

var _ graphql.OperationContextMutator = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if depth := selectionDepth(oc.Operation.SelectionSet); depth > d.max {
		err := gqlerror.Errorf("operation nests %d levels deep; at most %d are allowed", depth, d.max)
		err.Extensions = map[string]any{"code": telemetryd.EINVALID}
		return err
	}
	return nil
}

// selectionDepth measures nesting through fragments; validation has
// already refused fragment cycles.
func selectionDepth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch sel := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(sel.SelectionSet)
		case *ast.InlineFragment:
			d = selectionDepth(sel.SelectionSet)
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				d = selectionDepth(sel.Definition.SelectionSet)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// oneCredentialCheck refuses operations that check more than one password
// or refresh token: aliases would otherwise let one request try many
// passwords, past the per-username throttle, at bcrypt's cost each.
type oneCredentialCheck struct{}

var _ graphql.OperationContextMutator = oneCredentialCheck{}

func (oneCredentialCheck) ExtensionName() string                   { return "OneCredentialCheck" }
func (oneCredentialCheck) Validate(graphql.ExecutableSchema) error { return nil }

func (oneCredentialCheck) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if n := countFields(oc.Operation.SelectionSet, "login", "refreshToken"); n > 1 {
		err := gqlerror.Errorf("one login or refreshToken per request; this one has %d", n)
		err.Extensions = map[string]any{"code": telemetryd.EINVALID}
		return err
	}
	return nil
}

// countFields counts the top-level fields of a selection set with one of
// the names, through fragments.
func countFields(set ast.SelectionSet, names ...string) int {
	n := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if slices.Contains(names, sel.Name) {
				n++
			}
		case *ast.InlineFragment:
			n += countFields(sel.SelectionSet, names...)
		case *ast.FragmentSpread:
			if sel.Definition != nil {
				n += countFields(sel.Definition.SelectionSet, names...)
			}
		}
	}
	return n
}
