import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sequenceContextSize } from './task-definitions.js';
import { loadTasks, TasksFileError } from './tasks-file.js';

const dir = mkdtempSync(join(tmpdir(), 'duet-tasks-'));
let files = 0;
const tasksFile = (yaml: string) => {
  const path = join(dir, `tasks-${++files}.yaml`);
  writeFileSync(path, yaml);
  return path;
};

const URGENCY = `
tasks:
  - name: urgency
    kind: classify
    instruction: How urgent is this support ticket?
    labels:
      - name: urgent
        description: service down, payment failed
      - normal
      - low
    minConfidence: 0.5
`;

describe('tasks file', () => {
  it('ships sentiment and chat as built-in tasks', () => {
    const tasks = loadTasks();
    expect(tasks.map((task) => `${task.name}:${task.kind}`)).toEqual(['sentiment:classify', 'chat:chat']);
    expect(tasks[0]).toMatchObject({ labels: [{ name: 'positive' }, { name: 'negative' }, { name: 'neutral' }] });
    expect(tasks[1]).toMatchObject({ maxChars: 60, maxTokens: 64, maxInputTokens: 1024 });
  });

  it("adds an operator's tasks, with plain and described labels and defaults filled in", () => {
    const tasks = loadTasks({ file: tasksFile(URGENCY) });
    expect(tasks.map((task) => task.name)).toEqual(['sentiment', 'chat', 'urgency']);
    expect(tasks[2]).toEqual({
      name: 'urgency',
      kind: 'classify',
      instruction: 'How urgent is this support ticket?',
      labels: [{ name: 'urgent', description: 'service down, payment failed' }, { name: 'normal' }, { name: 'low' }],
      layout: 'text-first',
      minConfidence: 0.5,
      maxInputTokens: 1024,
      class: 'batch',
    });
  });

  it("takes a classify task's layout from the file, else text-first; the built-in sentiment is question-first", () => {
    const file = tasksFile(
      `${URGENCY}  - name: alone\n    kind: classify\n    layout: question-first\n    instruction: Which team?\n    labels: [a, b]\n`,
    );
    const layouts = Object.fromEntries(
      loadTasks({ file }).flatMap((task) => (task.kind === 'classify' ? [[task.name, task.layout]] : [])),
    );
    expect(layouts).toEqual({ sentiment: 'question-first', urgency: 'text-first', alone: 'question-first' });
  });

  it("takes a task's traffic class from the file, else interactive for chat and batch for the others", () => {
    const file = tasksFile(
      'tasks:\n  - name: live\n    kind: classify\n    class: interactive\n    instruction: Which team?\n    labels: [a, b]\n',
    );
    const classes = Object.fromEntries(loadTasks({ file }).map((task) => [task.name, task.class]));
    expect(classes).toEqual({ sentiment: 'batch', chat: 'interactive', live: 'interactive' });
    expect(() =>
      loadTasks({ file: tasksFile('tasks:\n  - name: x\n    kind: chat\n    class: urgent\n    persona: Hi.\n') }),
    ).toThrow(/class/);
  });

  it('lets a file redefine a built-in task by name, in place', () => {
    const file = tasksFile('tasks:\n  - name: chat\n    kind: chat\n    persona: You are the assistant of ACME.\n');
    const tasks = loadTasks({ file });
    expect(tasks.map((task) => task.name)).toEqual(['sentiment', 'chat']);
    expect(tasks[1]).toMatchObject({ persona: 'You are the assistant of ACME.', maxChars: 60, maxTokens: 64 });
  });

  it('applies CHAT_MAX_TOKENS and CHAT_MAX_CHARS to the chat task when they are set', () => {
    expect(loadTasks({ chatMaxTokens: 32, chatMaxChars: 200 })[1]).toMatchObject({ maxTokens: 32, maxChars: 200 });
    expect(loadTasks({ chatMaxTokens: 32 })[1]).toMatchObject({ maxTokens: 32, maxChars: 60 });
  });

  it('accepts labels in any script, and labels that are prefixes of others', () => {
    const file = tasksFile(
      'tasks:\n  - name: lang\n    kind: classify\n    instruction: q\n    labels: [中文, English, Eng]\n',
    );
    expect(loadTasks({ file })[2]).toMatchObject({ labels: [{ name: '中文' }, { name: 'English' }, { name: 'Eng' }] });
  });

  it.each([
    [
      'too few labels',
      'tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [a]\n',
      'tasks[0].labels: at least 2 labels (line 5)',
    ],
    [
      'a missing field',
      'tasks:\n  - name: x\n    kind: classify\n    labels: [a, b]\n',
      'tasks[0].instruction: required (line 2)',
    ],
    [
      'an unknown kind',
      'tasks:\n  - name: x\n    kind: summarize\n',
      'tasks[0].kind: must be one of classify, chat, extract (line 3)',
    ],
    [
      'an unknown field',
      'tasks:\n  - name: x\n    kind: chat\n    persona: p\n    temperature: 1\n',
      'tasks[0]: unknown field "temperature" (line 2)',
    ],
    [
      'a name unfit for URLs',
      'tasks:\n  - name: Urgent Tasks\n    kind: chat\n    persona: p\n',
      'tasks[0].name: use only lowercase letters, digits and dashes (line 2)',
    ],
    [
      'a reserved name',
      'tasks:\n  - name: completions\n    kind: chat\n    persona: p\n',
      'tasks[0].name: "completions" is reserved (line 2)',
    ],
    [
      'a task defined twice',
      'tasks:\n  - {name: a, kind: chat, persona: p}\n  - {name: a, kind: chat, persona: q}\n',
      'tasks[1].name: "a" is defined twice (line 3)',
    ],
    [
      'a repeated label',
      'tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [a, b, a]\n',
      'tasks[0].labels[2]: "a" is listed twice (line 5)',
    ],
    [
      'an untrimmed label',
      'tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [a, "b "]\n',
      'tasks[0].labels[1]: must not be empty or start or end with white space (line 5)',
    ],
    [
      'a label over 64 characters',
      `tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [a, ${'b'.repeat(65)}]\n`,
      'tasks[0].labels[1]: at most 64 characters (line 5)',
    ],
    [
      'more than 20 labels',
      `tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [${Array.from({ length: 21 }, (_, i) => `l${i}`).join(', ')}]\n`,
      'tasks[0].labels: at most 20 labels (line 5)',
    ],
    [
      'an unknown layout',
      'tasks:\n  - name: x\n    kind: classify\n    instruction: q\n    labels: [a, b]\n    layout: answer-first\n',
      'tasks[0].layout: must be one of text-first, question-first (line 6)',
    ],
    [
      'a layout on a chat task',
      'tasks:\n  - name: x\n    kind: chat\n    persona: p\n    layout: text-first\n',
      'tasks[0]: unknown field "layout" (line 2)',
    ],
    [
      'a token budget over the maximum',
      'tasks:\n  - name: x\n    kind: chat\n    persona: p\n    maxInputTokens: 100000\n',
      'tasks[0].maxInputTokens: at most 4096 (line 5)',
    ],
    [
      'a chat reply cap over the maximum',
      'tasks:\n  - name: x\n    kind: chat\n    persona: p\n    maxTokens: 1000\n',
      'tasks[0].maxTokens: at most 256 (line 5)',
    ],
    [
      'broken YAML',
      'tasks: [\n',
      'line 2: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['no tasks', 'tasks: []\n', 'tasks: at least 1 task (line 1)'],
    [
      'an extraction schema keyword the grammar cannot enforce',
      'tasks:\n  - name: x\n    kind: extract\n    instruction: q\n    schema: {type: object, properties: {n: {type: integer, minimum: 1}}}\n',
      "tasks[0].schema: the JSON schema's #/properties/n/minimum is not supported (line 5)",
    ],
    [
      'an extract task without a schema',
      'tasks:\n  - name: x\n    kind: extract\n    instruction: q\n',
      'tasks[0].schema: required (line 2)',
    ],
  ])('refuses %s with one line naming the file and the place', (_case, yaml, problem) => {
    const file = tasksFile(yaml);
    expect(() => loadTasks({ file })).toThrow(TasksFileError);
    expect(() => loadTasks({ file })).toThrow(`TASKS_FILE ${file.split('/').pop()}: ${problem}`);
  });

  it('reads an extract task with its schema, and a default token cap', () => {
    const file = tasksFile(
      'tasks:\n  - name: order\n    kind: extract\n    instruction: Extract the order number.\n    schema: {type: object, properties: {id: {type: string}}, required: [id]}\n',
    );
    expect(loadTasks({ file }).find((task) => task.name === 'order')).toEqual({
      name: 'order',
      kind: 'extract',
      instruction: 'Extract the order number.',
      schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      maxTokens: 128,
      maxInputTokens: 1024,
      class: 'batch',
    });
  });

  it('refuses a file it cannot read, saying why', () => {
    expect(() => loadTasks({ file: join(dir, 'missing.yaml') })).toThrow(
      'TASKS_FILE missing.yaml: cannot read it (ENOENT)',
    );
  });

  it('sizes sequences for the largest prompt budget plus the largest answer, in pages of 256', () => {
    const small = loadTasks();
    expect(sequenceContextSize(small)).toBe(1280);
    const file = tasksFile('tasks:\n  - {name: long, kind: chat, persona: p, maxInputTokens: 3000}\n');
    expect(sequenceContextSize(loadTasks({ file }))).toBe(3328);
  });

  it('reads a symlinked file like any other (operators keep files in config management)', () => {
    const target = tasksFile(URGENCY);
    const link = join(dir, 'link.yaml');
    symlinkSync(target, link);
    expect(loadTasks({ file: link }).map((task) => task.name)).toContain('urgency');
  });
});
