// PromQL autocomplete: given the text and the cursor, what kind of completion applies there and
// which candidates fit. Pure functions; the editor (pages/explore.ts) fetches the names.

export const FUNCTIONS: string[] = [
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh',
  'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh',
  'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta',
  'deriv', 'double_exponential_smoothing', 'exp', 'floor', 'histogram_avg', 'histogram_count',
  'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar', 'histogram_sum',
  'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace',
  'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time', 'min_over_time', 'minute',
  'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets',
  'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_by_label', 'sort_by_label_desc', 'sort_desc',
  'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp',
  'vector', 'year',
];

export const AGGREGATIONS: string[] = [
  'avg', 'bottomk', 'count', 'count_values', 'group', 'limit_ratio', 'limitk', 'max', 'min', 'quantile',
  'stddev', 'stdvar', 'sum', 'topk',
];

/** Words that may follow a complete expression. */
export const KEYWORDS: string[] = [
  'and', 'atan2', 'bool', 'by', 'group_left', 'group_right', 'ignoring', 'offset', 'on', 'or', 'unless',
  'without',
];

export const DURATIONS: string[] = ['1m', '5m', '10m', '15m', '30m', '1h', '6h', '12h', '1d', '7d', '30s', '10s'];

/** Keywords that act as binary operators: an expression follows them. */
const OPERATOR_WORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool']);
/** Keywords whose parenthesis holds label names. */
const GROUPING_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

export type CompletionKind = 'metric' | 'labelName' | 'labelValue' | 'duration' | 'keyword' | 'none';

export interface CompletionContext {
  kind: CompletionKind;
  /** What has been typed of the item; candidates must match it. */
  prefix: string;
  /** The text from `from` to `to` is replaced by the chosen candidate. */
  from: number;
  to: number;
  /** For labelName/labelValue in a selector: the metric name before `{` ('' when none). */
  metric?: string;
  /** For labelValue: the label. */
  label?: string;
  /** For labelValue: whether the cursor is inside an open string, and its quote character. */
  quoted?: boolean;
  quote?: string;
  /** For labelName: inside `by (…)`, `without (…)`, `on (…)`, … rather than a selector. */
  grouping?: boolean;
}

type Frame =
  | { type: 'paren'; grouping: boolean }
  | { type: 'bracket' }
  | { type: 'brace'; metric: string; label: string; expect: 'label' | 'op' | 'value' | 'comma' };

type Last = 'start' | 'operator' | 'open' | 'ident' | 'keyword' | 'number' | 'close' | 'string';

const isIdentStart = (c: string) => /[A-Za-z_:]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_:]/.test(c);

/** The completion that applies at `cursor` in `text`. */
export function classify(text: string, cursor: number = text.length): CompletionContext {
  const src = text.slice(0, cursor);
  const none = (): CompletionContext => ({ kind: 'none', prefix: '', from: cursor, to: cursor });
  const stack: Frame[] = [];
  let last: Last = 'start';
  let lastIdent = '';
  let i = 0;
  const top = () => stack[stack.length - 1];
  // End of the word the cursor is in (the rest of an identifier after the cursor is replaced too).
  let wordEnd = cursor;
  while (wordEnd < text.length && isIdentChar(text[wordEnd])) wordEnd++;

  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      const nl = src.indexOf('\n', i);
      if (nl < 0) return none();
      i = nl + 1;
      continue;
    }
    const t = top();
    if (c === '"' || c === "'" || c === '`') {
      // A string: find its end.
      let j = i + 1;
      let closed = false;
      while (j < src.length) {
        if (c !== '`' && src[j] === '\\') {
          j += 2;
          continue;
        }
        if (src[j] === c) {
          closed = true;
          break;
        }
        j++;
      }
      if (!closed) {
        if (t?.type === 'brace' && t.expect === 'value') {
          return {
            kind: 'labelValue',
            prefix: src.slice(i + 1),
            from: i + 1,
            to: cursor,
            metric: t.metric,
            label: t.label,
            quoted: true,
            quote: c,
          };
        }
        return none();
      }
      if (t?.type === 'brace') t.expect = t.expect === 'value' ? 'comma' : t.expect;
      last = 'string';
      i = j + 1;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i;
      while (j < src.length && isIdentChar(src[j])) j++;
      const word = src.slice(i, j);
      if (j === src.length) {
        // The word being typed.
        return classifyWord(word, i, wordEnd, t, last);
      }
      if (t?.type === 'brace') {
        if (t.expect === 'label') {
          t.label = word;
          t.expect = 'op';
        }
      } else if (OPERATOR_WORDS.has(word)) {
        last = 'operator';
      } else if (GROUPING_WORDS.has(word) || word === 'offset') {
        last = 'keyword';
      } else {
        last = 'ident';
      }
      lastIdent = word;
      i = j;
      continue;
    }
    if (/[0-9.]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_.]/.test(src[j])) j++;
      if (j === src.length) {
        if (t?.type === 'bracket') return { kind: 'duration', prefix: src.slice(i), from: i, to: wordEnd };
        return none();
      }
      last = 'number';
      i = j;
      continue;
    }
    switch (c) {
      case '(':
        stack.push({ type: 'paren', grouping: last === 'keyword' && GROUPING_WORDS.has(lastIdent) });
        last = 'open';
        break;
      case ')':
        if (top()?.type === 'paren') stack.pop();
        last = 'close';
        break;
      case '[':
        stack.push({ type: 'bracket' });
        last = 'open';
        break;
      case ']':
        if (top()?.type === 'bracket') stack.pop();
        last = 'close';
        break;
      case '{':
        stack.push({ type: 'brace', metric: last === 'ident' ? lastIdent : '', label: '', expect: 'label' });
        last = 'open';
        break;
      case '}':
        if (top()?.type === 'brace') stack.pop();
        last = 'close';
        break;
      case ',':
        if (t?.type === 'brace') t.expect = 'label';
        last = 'open';
        break;
      case '=':
      case '!':
      case '~': {
        // `=`, `!=`, `=~`, `!~` after a label name: a value follows (the second character of a
        // two-character operator finds the value already expected).
        if (t?.type === 'brace' && t.expect === 'op' && c !== '~') t.expect = 'value';
        last = 'operator';
        break;
      }
      default:
        last = 'operator';
    }
    i++;
  }

  const t = top();
  if (t?.type === 'brace') {
    if (t.expect === 'label') return { kind: 'labelName', prefix: '', from: cursor, to: wordEnd, metric: t.metric };
    if (t.expect === 'value')
      return { kind: 'labelValue', prefix: '', from: cursor, to: cursor, metric: t.metric, label: t.label, quoted: false };
    return none();
  }
  if (t?.type === 'bracket') return { kind: 'duration', prefix: '', from: cursor, to: cursor };
  if (t?.type === 'paren' && t.grouping) {
    return last === 'open' ? { kind: 'labelName', prefix: '', from: cursor, to: wordEnd, grouping: true } : none();
  }
  if (last === 'start' || last === 'operator' || last === 'open') {
    return { kind: 'metric', prefix: '', from: cursor, to: wordEnd };
  }
  return none();
}

function classifyWord(word: string, from: number, to: number, t: Frame | undefined, last: Last): CompletionContext {
  if (t?.type === 'brace') {
    if (t.expect === 'label') return { kind: 'labelName', prefix: word, from, to, metric: t.metric };
    if (t.expect === 'value')
      return { kind: 'labelValue', prefix: word, from, to, metric: t.metric, label: t.label, quoted: false };
    return { kind: 'none', prefix: '', from: to, to };
  }
  if (t?.type === 'paren' && t.grouping) return { kind: 'labelName', prefix: word, from, to, grouping: true };
  if (t?.type === 'bracket') return { kind: 'duration', prefix: word, from, to };
  if (last === 'ident' || last === 'close' || last === 'number' || last === 'string') {
    return { kind: 'keyword', prefix: word, from, to };
  }
  return { kind: 'metric', prefix: word, from, to };
}

// --- Candidates -----------------------------------------------------------------------------

export type CandidateKind = 'metric' | 'function' | 'label' | 'value' | 'keyword' | 'duration';

export interface Candidate {
  text: string;
  kind: CandidateKind;
}

/**
 * The names that match `prefix`: those starting with it first (alphabetically), then those that
 * contain it; an empty prefix matches all. At most `limit`.
 */
export function filterNames(names: string[], prefix: string, limit = 50): string[] {
  const p = prefix.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (l.startsWith(p)) starts.push(n);
    else if (p && l.includes(p)) contains.push(n);
  }
  starts.sort();
  contains.sort();
  return [...new Set([...starts, ...contains])].slice(0, limit);
}

/** What the editor must look up for a context (nothing for static lists). */
export type Lookup =
  | { type: 'metrics' }
  | { type: 'labelNames'; metric: string }
  | { type: 'labelValues'; label: string; metric: string }
  | null;

export function lookupFor(ctx: CompletionContext): Lookup {
  switch (ctx.kind) {
    case 'metric':
      return { type: 'metrics' };
    case 'labelName':
      return { type: 'labelNames', metric: ctx.metric ?? '' };
    case 'labelValue':
      return { type: 'labelValues', label: ctx.label ?? '', metric: ctx.metric ?? '' };
    default:
      return null;
  }
}

/** The candidates for a context, given the names looked up for it (metric, label or value names). */
export function candidates(ctx: CompletionContext, names: string[] = [], limit = 100): Candidate[] {
  switch (ctx.kind) {
    case 'metric': {
      // Metric names and functions; with nothing typed yet the metrics come first, otherwise
      // the names starting with the prefix come first, all sorted.
      const metricSet = new Set(names);
      const fns = [...FUNCTIONS, ...AGGREGATIONS].filter((f) => !metricSet.has(f));
      const ms: Candidate[] = filterNames(names, ctx.prefix, limit).map((n) => ({ text: n, kind: 'metric' }));
      const fs: Candidate[] = filterNames(fns, ctx.prefix, limit).map((n) => ({ text: n, kind: 'function' }));
      let all = [...ms, ...fs];
      if (ctx.prefix) {
        const p = ctx.prefix.toLowerCase();
        const rank = (c: Candidate) => (c.text.toLowerCase().startsWith(p) ? 0 : 1);
        all = all.sort((a, b) => rank(a) - rank(b) || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
      }
      return all.filter((c) => c.text !== ctx.prefix || c.kind === 'function').slice(0, limit);
    }
    case 'labelName':
      return filterNames(names.filter((n) => n !== '__name__' || !ctx.grouping), ctx.prefix, limit).map((n) => ({ text: n, kind: 'label' }));
    case 'labelValue':
      return filterNames(names, ctx.prefix, limit).map((n) => ({ text: n, kind: 'value' }));
    case 'keyword':
      return filterNames(KEYWORDS, ctx.prefix, limit)
        .filter((n) => n !== ctx.prefix)
        .map((n) => ({ text: n, kind: 'keyword' }));
    case 'duration':
      return DURATIONS.filter((d) => d.startsWith(ctx.prefix) && d !== ctx.prefix).map((n) => ({ text: n, kind: 'duration' }));
    default:
      return [];
  }
}

/** A label value as the inside of a PromQL string with quote `q`. */
export function escapeString(v: string, q = '"'): string {
  if (q === '`') return v;
  return v.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`).replace(/\n/g, '\\n');
}

/** The text and cursor after inserting `cand` in the place that `ctx` describes. */
export function applyCompletion(text: string, ctx: CompletionContext, cand: Candidate): { text: string; cursor: number } {
  const before = text.slice(0, ctx.from);
  let after = text.slice(ctx.to);
  let insert = cand.text;
  let cursorOffset: number | null = null;
  switch (cand.kind) {
    case 'function':
      if (!after.startsWith('(')) {
        insert += '(';
      } else {
        cursorOffset = insert.length + 1;
      }
      break;
    case 'label':
      if (!ctx.grouping && !/^\s*(=|!=|=~|!~)/.test(after)) {
        insert += '=""';
        cursorOffset = insert.length - 1;
      }
      break;
    case 'value':
      if (ctx.quoted) {
        const q = ctx.quote ?? '"';
        // Replace the rest of the string up to its closing quote, if on this line.
        const close = after.indexOf(q);
        const nl = after.indexOf('\n');
        if (close >= 0 && (nl < 0 || close < nl)) after = after.slice(close + 1);
        insert = `${escapeString(cand.text, q)}${q}`;
      } else {
        insert = `"${escapeString(cand.text)}"`;
      }
      break;
    default:
      break;
  }
  const out = before + insert + after;
  return { text: out, cursor: before.length + (cursorOffset ?? insert.length) };
}
