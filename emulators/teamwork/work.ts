/** Projects, task lists and tasks of an installation: just enough of Teamwork.com's work model to
 * create tasks from Desk tickets and follow their state. */
import { EmulatorError } from './errors';
import type { Installation } from './installation';
import type { ProjectRecord, TaskInput, TaskRecord, TasklistRecord } from './types';
import { taskV3 } from './wire';

export function activeProject(installation: Installation, id: number): ProjectRecord {
  const project = installation.projects.get(id);
  if (!project) throw new EmulatorError('not_found', `Project ${id} not found`);
  return project;
}

export function activeTasklist(installation: Installation, id: number): TasklistRecord {
  const tasklist = installation.tasklists.get(id);
  if (!tasklist) throw new EmulatorError('not_found', `Task list ${id} not found`);
  return tasklist;
}

export function activeTask(installation: Installation, id: number): TaskRecord {
  const task = installation.tasks.get(id);
  if (!task || task.status === 'deleted') throw new EmulatorError('not_found', `Task ${id} not found`);
  return task;
}

export function createProject(
  installation: Installation,
  input: { name: string; description?: string; companyId?: number },
): ProjectRecord {
  const name = input.name?.trim();
  if (!name) throw new EmulatorError('validation', 'Project name is required');
  const companyId = input.companyId ?? installation.ownerCompanyId;
  installation.activeCompany(companyId);
  const timestamp = installation.clock.next();
  const project: ProjectRecord = {
    id: installation.nextId('projects'),
    name,
    description: input.description ?? '',
    companyId,
    status: 'active',
    createdAt: timestamp,
    updatedAt: timestamp,
  };
  installation.projects.set(project.id, project);
  installation.touch('projects');
  return project;
}

export function createTasklist(installation: Installation, input: { projectId: number; name: string }): TasklistRecord {
  activeProject(installation, input.projectId);
  const name = input.name?.trim();
  if (!name) throw new EmulatorError('validation', 'Task list name is required');
  const timestamp = installation.clock.next();
  const tasklist: TasklistRecord = {
    id: installation.nextId('tasklists'),
    name,
    projectId: input.projectId,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
  installation.tasklists.set(tasklist.id, tasklist);
  installation.touch('tasklists');
  return tasklist;
}

export function createTask(installation: Installation, tasklistId: number, input: TaskInput): TaskRecord {
  const tasklist = activeTasklist(installation, tasklistId);
  const name = input.name?.trim();
  if (!name) throw new EmulatorError('validation', 'Task name is required');
  const timestamp = installation.clock.next();
  const task: TaskRecord = {
    id: 0,
    name,
    description: input.description ?? '',
    status: 'new',
    progress: 0,
    tasklistId,
    projectId: tasklist.projectId,
    assigneeUserIds: [],
    dueAt: null,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
  applyTaskFields(installation, task, input);
  task.id = installation.nextId('tasks');
  installation.tasks.set(task.id, task);
  installation.touch('tasks');
  installation.notify('TASK.CREATED', 'task', taskV3(task));
  return task;
}

/** Completing a task is announced as TASK.COMPLETED rather than TASK.UPDATED, as Teamwork.com does. */
export function updateTask(installation: Installation, id: number, input: TaskInput): TaskRecord {
  const task = activeTask(installation, id);
  const wasCompleted = task.status === 'completed';
  const draft = { ...task, assigneeUserIds: [...task.assigneeUserIds] };
  applyTaskFields(installation, draft, input);
  Object.assign(task, draft, { updatedAt: installation.clock.next() });
  installation.touch('tasks');
  const completedNow = !wasCompleted && task.status === 'completed';
  installation.notify(completedNow ? 'TASK.COMPLETED' : 'TASK.UPDATED', 'task', taskV3(task));
  return task;
}

export function deleteTask(installation: Installation, id: number): void {
  const task = activeTask(installation, id);
  task.status = 'deleted';
  task.updatedAt = installation.clock.next();
  installation.touch('tasks');
  installation.notify('TASK.DELETED', 'task', taskV3(task));
}

function applyTaskFields(installation: Installation, task: TaskRecord, input: TaskInput): void {
  if (input.name !== undefined) {
    if (!input.name.trim()) throw new EmulatorError('validation', 'Task name cannot be empty');
    task.name = input.name.trim();
  }
  if (input.description !== undefined) task.description = input.description;
  if (input.progress !== undefined) {
    if (!Number.isInteger(input.progress) || input.progress < 0 || input.progress > 100) {
      throw new EmulatorError('validation', 'Progress must be an integer from 0 to 100');
    }
    task.progress = input.progress;
  }
  if (input.status !== undefined) {
    task.status = input.status;
    if (input.status === 'completed') task.progress = 100;
  }
  if (input.dueAt !== undefined) {
    if (input.dueAt !== null && Number.isNaN(Date.parse(input.dueAt))) {
      throw new EmulatorError('validation', 'dueAt must be an ISO 8601 date');
    }
    task.dueAt = input.dueAt;
  }
  if (input.assigneeUserIds !== undefined) {
    for (const userId of input.assigneeUserIds) assertAssignable(installation, userId);
    task.assigneeUserIds = [...new Set(input.assigneeUserIds)];
  }
}

/** Contacts cannot log in, so Teamwork.com does not let tasks be assigned to them. */
function assertAssignable(installation: Installation, userId: number): void {
  const person = installation.people.get(userId);
  if (!person || person.deleted || person.type === 'contact') {
    throw new EmulatorError('validation', `User ${userId} cannot be assigned to tasks`);
  }
}
