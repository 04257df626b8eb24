import { parser } from '@prometheus-io/lezer-promql';

// PromQL read with Prometheus' own grammar (@prometheus-io/lezer-promql, the one its web UI uses):
// which metrics and labels a query names, and the operands an alert compares.

/** Operators whose result is a filtered operand: a quiet alert returns nothing through them. */
const FILTERS = new Set(['Gtr', 'Lss', 'Gte', 'Lte', 'Eql', 'Neq', 'And', 'Or', 'Unless']);
const NUMBERS = new Set(['NumberDurationLiteral', 'NumberLiteral']);

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface Selector {
  metric: string;
  labels: string[];
}

export interface QueryNames {
  selectors: Selector[];
  /** Every label the query names: in matchers, `by`/`without`, `on`/`ignoring`, `group_left`. */
  labels: string[];
}

function parse(query: string) {
  const tree = parser.parse(query);
  const errors: string[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: "${query.slice(node.from, node.to + 10)}"`);
    },
  });
  if (errors.length) throw new Error(`PromQL syntax error in ${query}: ${errors.join('; ')}`);
  return tree;
}

const text = (query: string, node: { from: number; to: number }) => query.slice(node.from, node.to);

/** The metrics a query selects, each with the labels its matchers name, and all labels it names. */
export function namesIn(query: string): QueryNames {
  const selectors: Selector[] = [];
  const labels = new Set<string>();
  parse(query).iterate({
    enter: (node) => {
      if (node.name === 'LabelName') labels.add(text(query, node));
      if (node.name !== 'VectorSelector') return;
      const selector = node.node;
      const metric = selector.getChild('Identifier');
      const matchers = selector.getChild('LabelMatchers');
      selectors.push({
        metric: metric ? text(query, metric) : '',
        labels: matchers
          ? matchers.getChildren('UnquotedLabelMatcher').map((m) => text(query, m.getChild('LabelName')!))
          : [],
      });
    },
  });
  return { selectors, labels: [...labels] };
}

/**
 * The parts of a query that comparisons and set operators filter, in order, numbers left out:
 * `a > ignoring (x) b and c - d > 3600` gives `a`, `b`, `c - d`. Each returns data while the
 * series it reads exist, whether the alert fires or not.
 */
export function operands(query: string): string[] {
  const found: string[] = [];
  const visit = (node: SyntaxNode) => {
    const operator = node.name === 'BinaryExpr' ? node.firstChild?.nextSibling : undefined;
    if (operator && FILTERS.has(operator.name)) {
      visit(node.firstChild!);
      visit(node.lastChild!);
    } else if (node.name === 'ParenExpr' && node.firstChild && !node.firstChild.nextSibling) {
      visit(node.firstChild);
    } else if (!NUMBERS.has(node.name)) {
      found.push(text(query, node).trim());
    }
  };
  visit(parse(query).topNode.firstChild!);
  return found;
}

/** What the dashboard's variables become in the tests: every instance of job "duet", 1-minute rates. */
export const GRAFANA_VARIABLES: Record<string, string> = {
  job: 'duet',
  instance: '.*',
  __rate_interval: '1m',
  __range: '5m',
};

/** A dashboard query as Grafana sends it to Prometheus: `$name` and `${name}` replaced. */
export function expandGrafanaVariables(query: string, values = GRAFANA_VARIABLES): string {
  return query.replace(/\$\{?(\w+)\}?/g, (variable, name: string) => {
    if (!(name in values)) throw new Error(`unknown Grafana variable ${variable} in ${query}`);
    return values[name];
  });
}
