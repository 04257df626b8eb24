import { Ajv, type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { grammarSchema } from './json-schema-support.js';
import {
  DEFAULT_CHAT_MAX_CHARS,
  DEFAULT_CLASSIFY_LAYOUT,
  DEFAULT_CHAT_MAX_TOKENS,
  DEFAULT_EXTRACT_MAX_TOKENS,
  DEFAULT_MAX_INPUT_TOKENS,
  DEFAULT_TRAFFIC_CLASS,
  type ClassifyLayout,
  type LabelDefinition,
  type TaskDefinition,
  type TaskKind,
  type TrafficClass,
} from './task-definitions.js';

const BUILT_IN_TASKS_FILE = new URL('./tasks.yaml', import.meta.url);
const SCHEMA_FILE = new URL('./tasks.schema.json', import.meta.url);

/** Names that would collide with fixed routes (/v1/chat/completions, /v1/classify/{task}/batch). */
const RESERVED_NAMES = new Set(['completions', 'batch']);

/** A tasks file that cannot be used; the message names the file and the place inside it. */
export class TasksFileError extends Error {}

type RawLabel = string | { name: string; description?: string };
/** A task as written: optional fields may be missing, labels may be plain strings. */
interface RawTask {
  name: string;
  kind: TaskDefinition['kind'];
  class?: TrafficClass;
  instruction?: string;
  labels?: RawLabel[];
  layout?: ClassifyLayout;
  minConfidence?: number;
  persona?: string;
  maxChars?: number;
  maxTokens?: number;
  maxInputTokens?: number;
  schema?: Record<string, unknown>;
}

let validateSchema: ReturnType<Ajv['compile']> | undefined;

function schemaValidator() {
  validateSchema ??= new Ajv({ allErrors: false, discriminator: true, strict: false }).compile(
    JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')),
  );
  return validateSchema;
}

/** `/tasks/2/labels` → `tasks[2].labels` */
function fieldPath(instancePath: string, child?: string): string {
  const segments = [...instancePath.split('/').slice(1), ...(child ? [child] : [])];
  return segments.reduce(
    (path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment),
    '',
  );
}

function describeProblem(error: ErrorObject): string {
  const noun = error.instancePath.split('/').pop() ?? 'items';
  const count = (n: number) => `${n} ${n === 1 ? noun.replace(/s$/, '') : noun}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${fieldPath(error.instancePath, params.missingProperty as string)}: required`;
    case 'additionalProperties':
      return `${fieldPath(error.instancePath)}: unknown field "${params.additionalProperty as string}"`;
    case 'minItems':
      return `${fieldPath(error.instancePath)}: at least ${count(params.limit as number)}`;
    case 'maxItems':
      return `${fieldPath(error.instancePath)}: at most ${count(params.limit as number)}`;
    case 'minLength':
      return `${fieldPath(error.instancePath)}: at least ${params.limit as number} characters`;
    case 'maxLength':
      return `${fieldPath(error.instancePath)}: at most ${params.limit as number} characters`;
    case 'minimum':
      return `${fieldPath(error.instancePath)}: at least ${params.limit as number}`;
    case 'maximum':
      return `${fieldPath(error.instancePath)}: at most ${params.limit as number}`;
    case 'enum':
      return `${fieldPath(error.instancePath)}: must be one of ${(params.allowedValues as string[]).join(', ')}`;
    case 'discriminator':
      return `${fieldPath(error.instancePath, 'kind')}: must be one of classify, chat, extract`;
    case 'pattern':
      return noun === 'name' && !error.instancePath.includes('/labels/')
        ? `${fieldPath(error.instancePath)}: use only lowercase letters, digits and dashes`
        : `${fieldPath(error.instancePath)}: must not be empty or start or end with white space`;
    case 'oneOf':
      return `${fieldPath(error.instancePath)}: must be a label name or {name, description}`;
    default:
      return `${fieldPath(error.instancePath)}: ${error.message ?? error.keyword}`;
  }
}

/** An extract task's schema problem: a keyword the generation grammar cannot enforce. */
function schemaProblem(schema: unknown): string | undefined {
  try {
    grammarSchema(schema);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Checks the schema cannot express: unique names, reserved names, extraction schemas the grammar can hold. */
function checkTasks(tasks: RawTask[]): string | undefined {
  const seen = new Set<string>();
  for (const [index, task] of tasks.entries()) {
    if (RESERVED_NAMES.has(task.name)) return `tasks[${index}].name: "${task.name}" is reserved`;
    if (seen.has(task.name)) return `tasks[${index}].name: "${task.name}" is defined twice`;
    seen.add(task.name);
    const labels = (task.labels ?? []).map((label) => (typeof label === 'string' ? label : label.name));
    const repeated = labels.findIndex((label, i) => labels.indexOf(label) !== i);
    if (repeated >= 0) return `tasks[${index}].labels[${repeated}]: "${labels[repeated]}" is listed twice`;
    const problem = task.kind === 'extract' ? schemaProblem(task.schema) : undefined;
    if (problem) return `tasks[${index}].schema: ${problem}`;
  }
  return undefined;
}

/** The line (1-based) of the deepest node of a field path found in the YAML source. */
function lineOf(root: Node | null | undefined, path: string, lines: LineCounter): string {
  let node: unknown = root;
  for (const segment of path.match(/[^.[\]]+/g) ?? []) {
    const child: unknown = isMap(node)
      ? node.get(segment, true)
      : isSeq(node)
        ? node.get(Number(segment), true)
        : undefined;
    if (!child) break;
    node = child;
  }
  const offset = (node as Node | undefined)?.range?.[0];
  return offset === undefined ? '' : ` (line ${lines.linePos(offset).line})`;
}

/** Each kind's definition from a task the schema accepted: its fields, defaults filled in. */
const NORMALIZE: {
  [K in TaskKind]: (task: RawTask, maxInputTokens: number) => Omit<Extract<TaskDefinition, { kind: K }>, 'class'>;
} = {
  classify: (task, maxInputTokens) => ({
    name: task.name,
    kind: 'classify',
    instruction: task.instruction!,
    labels: task.labels!.map((label): LabelDefinition => (typeof label === 'string' ? { name: label } : label)),
    layout: task.layout ?? DEFAULT_CLASSIFY_LAYOUT,
    ...(task.minConfidence === undefined ? {} : { minConfidence: task.minConfidence }),
    maxInputTokens,
  }),
  chat: (task, maxInputTokens) => ({
    name: task.name,
    kind: 'chat',
    persona: task.persona!,
    maxChars: task.maxChars ?? DEFAULT_CHAT_MAX_CHARS,
    maxTokens: task.maxTokens ?? DEFAULT_CHAT_MAX_TOKENS,
    maxInputTokens,
  }),
  extract: (task, maxInputTokens) => ({
    name: task.name,
    kind: 'extract',
    instruction: task.instruction!,
    schema: task.schema!,
    maxTokens: task.maxTokens ?? DEFAULT_EXTRACT_MAX_TOKENS,
    maxInputTokens,
  }),
};

function normalize(task: RawTask): TaskDefinition {
  const fields = NORMALIZE[task.kind](task, task.maxInputTokens ?? DEFAULT_MAX_INPUT_TOKENS);
  return { ...fields, class: task.class ?? DEFAULT_TRAFFIC_CLASS[task.kind] } as TaskDefinition;
}

/** Parses and validates one tasks file; the error names the file, the field and its line. */
export function readTasksFile(path: string | URL, label = basename(path instanceof URL ? path.pathname : path)) {
  const fail = (problem: string): never => {
    throw new TasksFileError(`TASKS_FILE ${label}: ${problem}`);
  };
  let source = '';
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    fail(`cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const lines = new LineCounter();
  const document = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const [error] = document.errors;
    fail(`line ${lines.linePos(error.pos[0]).line}: ${error.message.split('\n')[0]}`);
  }
  const content = document.toJS({ maxAliasCount: 100 }) as unknown;
  const validate = schemaValidator();
  if (!validate(content)) {
    const problem = describeProblem(validate.errors![0]);
    fail(problem + lineOf(document.contents, problem.split(':')[0], lines));
  }
  const tasks = (content as { tasks: RawTask[] }).tasks;
  const problem = checkTasks(tasks);
  if (problem) fail(problem + lineOf(document.contents, problem.split(':')[0], lines));
  return tasks.map(normalize);
}

export interface TaskOverrides {
  /** Operator's tasks file (TASKS_FILE); its tasks are added, or replace built-ins of the same name. */
  file?: string;
  /** CHAT_MAX_TOKENS / CHAT_MAX_CHARS: caps for the task named `chat`, when set. */
  chatMaxTokens?: number;
  chatMaxChars?: number;
}

/** The built-in tasks, overlaid with the operator's file and the chat caps from the environment. */
export function loadTasks(overrides: TaskOverrides = {}): TaskDefinition[] {
  const tasks = new Map(readTasksFile(BUILT_IN_TASKS_FILE, 'built-in tasks.yaml').map((task) => [task.name, task]));
  if (overrides.file) for (const task of readTasksFile(overrides.file)) tasks.set(task.name, task);
  const chat = tasks.get('chat');
  if (chat?.kind === 'chat') {
    tasks.set('chat', {
      ...chat,
      maxTokens: overrides.chatMaxTokens ?? chat.maxTokens,
      maxChars: overrides.chatMaxChars ?? chat.maxChars,
    });
  }
  return [...tasks.values()];
}
