package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
)

// NewHandler returns the GraphQL endpoint: POST and GET only (multipart
// and form posts invite CSRF), with the limits of limits.go and
// admission.go, no suggestions in errors, introspection for signed-in
// callers only, and every error shown through one presenter. Permissions are the services'
// business; the schema's directives only document them.
func NewHandler(r *Resolver, logger *slog.Logger, reg prometheus.Registerer) (http.Handler, error) {
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
	srv.AddTransport(postTransport{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(MaxTokens)
	srv.SetDisableSuggestion(true) // field names, in the rules gqlgen swaps itself
	srv.SetValidationRulesFn(rulesWithoutSuggestions)
	srv.Use(documentShape{cache: cache})
	srv.Use(extension.Introspection{})
	srv.Use(introspectionForSignedIn{})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(mutationLimits{})
	admission := newAdmission()
	srv.Use(admission) // last: measured, and only waiting when nothing else refuses
	srv.SetErrorPresenter(presenter(logger))
	srv.AroundResponses(capErrors)
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
	return admission.wrap(srv), nil
}

// rulesWithoutSuggestions are gqlparser's validation rules with no "Did you
// mean" for argument names, enum values, input fields or type names:
// suggestions would hand the schema to callers whom introspection refuses
// it.
func rulesWithoutSuggestions() *rules.Rules {
	r := rules.NewDefaultRules()
	for _, rule := range []core.Rule{
		rules.KnownArgumentNamesRuleWithoutSuggestions,
		rules.KnownTypeNamesRuleWithoutSuggestions,
		rules.ValuesOfCorrectTypeRuleWithoutSuggestions,
	} {
		r.RemoveRule(strings.TrimSuffix(rule.Name, "WithoutSuggestions"))
		r.AddRule(rule.Name, rule.RuleFunc)
	}
	return r
}

// contractCodes are the extensions.code values clients may see.
var contractCodes = []string{
	telemetryd.EUNAUTHENTICATED, telemetryd.EFORBIDDEN, telemetryd.EINVALID, telemetryd.ENOTFOUND,
	telemetryd.ECONFLICT, telemetryd.ETOOMANYREQUESTS, telemetryd.EUNAVAILABLE, telemetryd.EINTERNAL,
}

// presenter maps domain error codes to extensions.code, hides internal
// errors, logging them with their path, and truncates long messages (see
// telemetryd.ShownMessage), which may quote what the caller sent.
func presenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	present := presentCode(logger)
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := present(ctx, err)
		gqlErr.Message = telemetryd.ShownMessage(gqlErr.Message)
		return gqlErr
	}
}

func presentCode(logger *slog.Logger) graphql.ErrorPresenterFunc {
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
