package graph

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/telemetryd/telemetryd"
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
	// MaxSelections bounds the fields, inline fragments and fragment
	// spreads of a document, counted with every fragment spread expanded.
	// It is checked before validation, whose overlapping-fields rule costs
	// the square of the selections sharing a name, and it bounds every
	// later walk of the operation (complexity, introspection, credential
	// checks) too.
	MaxSelections = 500
	// MaxMutations bounds the mutation fields of one request, aliases and
	// fragments included.
	MaxMutations = 10
	// MaxErrors bounds the errors of one response; the rest are counted in
	// one last error.
	MaxErrors = 20
)

// documentShape refuses documents that select more than MaxSelections
// times, or nest deeper than MaxDepth, once their fragments are expanded,
// before gqlgen validates them. It walks each fragment once (see
// shapeWalker), so its cost is linear in the document whatever the
// expansion would be. Documents in the query cache passed it already.
type documentShape struct {
	cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentShape{}

func (documentShape) ExtensionName() string                   { return "DocumentShape" }
func (documentShape) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentShape) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		return unavailable("the request ended before it was read")
	}
	if _, ok := d.cache.Get(ctx, params.Query); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, MaxTokens)
	if err != nil {
		return nil // gqlgen reports the parse error itself
	}
	w := shapeWalker{fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)), memo: map[string]shape{}}
	for _, f := range doc.Fragments {
		w.fragments[f.Name] = f
	}
	var total shape
	add := func(s shape) {
		total.selections = min(total.selections+s.selections, MaxSelections+1)
		total.depth = max(total.depth, s.depth)
	}
	for _, op := range doc.Operations {
		add(w.set(op.SelectionSet))
	}
	// Validation walks unused fragments too, before refusing them.
	for _, f := range doc.Fragments {
		if _, walked := w.memo[f.Name]; !walked {
			add(w.fragment(f.Name))
		}
	}
	switch {
	case total.selections > MaxSelections:
		return invalid("the document makes more than %d selections once its fragments are expanded; at most %d are allowed", MaxSelections, MaxSelections)
	case total.depth > MaxDepth:
		return invalid("operation nests %d levels deep; at most %d are allowed", total.depth, MaxDepth)
	}
	return nil
}

// shape is what a selection set asks for once the fragments it spreads
// are expanded.
type shape struct {
	// selections counts fields, inline fragments and spreads; it stops
	// counting past MaxSelections.
	selections int
	// depth is how deeply fields nest.
	depth int
}

// shapeWalker measures selection sets, remembering the shape of each
// fragment so that a fragment spread any number of times is walked once.
type shapeWalker struct {
	fragments map[string]*ast.FragmentDefinition
	memo      map[string]shape
}

func (w *shapeWalker) set(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		var sub shape
		switch sel := sel.(type) {
		case *ast.Field:
			sub = w.set(sel.SelectionSet)
			sub.depth++
		case *ast.InlineFragment:
			sub = w.set(sel.SelectionSet)
		case *ast.FragmentSpread:
			sub = w.fragment(sel.Name)
		}
		s.selections += 1 + sub.selections
		s.depth = max(s.depth, sub.depth)
		if s.selections > MaxSelections {
			// Refused whatever else it holds.
			s.selections = MaxSelections + 1
			return s
		}
	}
	return s
}

func (w *shapeWalker) fragment(name string) shape {
	if s, ok := w.memo[name]; ok {
		return s
	}
	// A fragment spreading itself counts nothing more: validation refuses
	// the cycle.
	w.memo[name] = shape{}
	def := w.fragments[name]
	if def == nil {
		return shape{} // validation refuses the unknown fragment
	}
	s := w.set(def.SelectionSet)
	w.memo[name] = s
	return s
}

// mutationLimits refuses operations with more than MaxMutations mutation
// fields, and those that check more than one password or refresh token:
// aliases would otherwise let one request try many passwords, past the
// per-username throttle, at bcrypt's cost each.
type mutationLimits struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = mutationLimits{}

func (mutationLimits) ExtensionName() string                   { return "MutationLimits" }
func (mutationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (mutationLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if n := countFields(oc.Operation.SelectionSet, "login", "refreshToken"); n > 1 {
		return invalid("one login or refreshToken per request; this one has %d", n)
	}
	if oc.Operation.Operation != ast.Mutation {
		return nil
	}
	if n := countFields(oc.Operation.SelectionSet); n > MaxMutations {
		return invalid("at most %d mutations per request; this one has %d", MaxMutations, n)
	}
	return nil
}

// countFields counts the top-level fields of a selection set with one of
// the names, or all of them when no name is given, through fragments.
// documentShape bounds the expansion.
func countFields(set ast.SelectionSet, names ...string) int {
	n := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if len(names) == 0 || slices.Contains(names, sel.Name) {
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

// capErrors keeps the first MaxErrors errors of a response and replaces
// the others with one that counts them, so a small request cannot make a
// large answer (a few bytes of an unknown directive, repeated, each earn
// an error).
func capErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= MaxErrors {
		return resp
	}
	omitted := resp.Errors[MaxErrors]
	rest := gqlerror.Errorf("%d more errors omitted", len(resp.Errors)-MaxErrors)
	rest.Extensions = map[string]any{"code": omitted.Extensions["code"]}
	resp.Errors = append(resp.Errors[:MaxErrors:MaxErrors], rest)
	return resp
}

// invalid is a refusal of the caller's document: BAD_USER_INPUT.
func invalid(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": telemetryd.EINVALID}
	return err
}

// unavailable is a refusal to be retried later: UNAVAILABLE.
func unavailable(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": telemetryd.EUNAVAILABLE}
	return err
}
