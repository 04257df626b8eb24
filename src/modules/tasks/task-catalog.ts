import type { ChatTask, TaskDefinition, TaskKind } from '../../prompts/task-definitions.js';
import { UnknownTaskError, WrongTaskKindError } from './task.errors.js';

type TaskOfKind<K extends TaskKind> = Extract<TaskDefinition, { kind: K }>;

/**
 * The tasks being served, by name. Replaced as a whole on reload, so a request sees one consistent
 * set from the moment it looks its tasks up.
 */
export class TaskCatalog {
  private byName: ReadonlyMap<string, TaskDefinition>;

  constructor(tasks: readonly TaskDefinition[]) {
    this.byName = new Map(tasks.map((task) => [task.name, task]));
  }

  get all(): TaskDefinition[] {
    return [...this.byName.values()];
  }

  ofKind<K extends TaskKind>(kind: K): TaskOfKind<K>[] {
    return this.all.filter((task): task is TaskOfKind<K> => task.kind === kind);
  }

  get<K extends TaskKind>(name: string, kind: K): TaskOfKind<K> {
    const task = this.byName.get(name);
    if (!task) throw new UnknownTaskError(name, [...this.byName.keys()]);
    if (task.kind !== kind) throw new WrongTaskKindError(name, task.kind, kind);
    return task as TaskOfKind<K>;
  }

  /** A chat task by name, when one exists (the OpenAI route's `model` field may name one). */
  findChat(name: string | undefined): ChatTask | undefined {
    const task = name === undefined ? undefined : this.byName.get(name);
    return task?.kind === 'chat' ? task : undefined;
  }

  /** Whether this very definition is served now (same name, same fields). */
  serves(task: TaskDefinition): boolean {
    const served = this.byName.get(task.name);
    return served !== undefined && JSON.stringify(served) === JSON.stringify(task);
  }

  replace(tasks: readonly TaskDefinition[]): void {
    this.byName = new Map(tasks.map((task) => [task.name, task]));
  }
}
