/** v3 projects, task lists and tasks. */
import { Router, type Request } from 'express';
import { parseInput, v3TaskBodySchema } from '../inputs';
import type { Installation } from '../installation';
import { paginate, parsePageRequest, queryIds, queryTimestamp, type Ordering, type Query } from '../listing';
import type { EmulatorState } from '../state';
import { activeProject, activeTask, createTask, deleteTask, updateTask } from '../work';
import { projectV3, tasklistV3, taskV3 } from '../wire';
import { recordId } from './params';
import { siteOf } from './site-middleware';

const byId: Ordering<{ id: number }> = { defaultKey: 'id', keys: { id: (record) => record.id } };

function listed<T extends { id: number }>(
  installation: Installation,
  collection: 'projects' | 'tasklists' | 'tasks',
  source: Map<number, T>,
  query: Query,
  keep: (record: T) => boolean,
): T[] {
  return installation.sortedViews
    .sorted(collection, installation.revisions[collection], source.values(), byId, query)
    .filter(keep);
}

function taskFilter(query: Request['query']) {
  const ids = queryIds(query, 'ids');
  const tasklistIds = queryIds(query, 'tasklistIds');
  const updatedAfter = queryTimestamp(query, 'updatedAfter');
  return (task: { id: number; tasklistId: number; status: string; updatedAt: string }) =>
    task.status !== 'deleted' &&
    (ids === undefined || ids.has(task.id)) &&
    (tasklistIds === undefined || tasklistIds.has(task.tasklistId)) &&
    (updatedAfter === undefined || task.updatedAt > updatedAfter);
}

export function workRoutes(state: EmulatorState): Router {
  const router = Router();
  const v3 = '/projects/api/v3';

  router.get(`${v3}/projects.json`, (req, res) => {
    const installation = siteOf(res);
    const projects = listed(installation, 'projects', installation.projects, req.query, () => true);
    const page = paginate(projects, parsePageRequest(req.query, state.maxPageSize));
    res.json({ projects: page.items.map(projectV3), meta: page.meta, included: {} });
  });

  router.get(`${v3}/projects/:id/tasklists.json`, (req, res) => {
    const installation = siteOf(res);
    const project = activeProject(installation, recordId(req));
    const tasklists = listed(installation, 'tasklists', installation.tasklists, req.query, (list) => list.projectId === project.id);
    const page = paginate(tasklists, parsePageRequest(req.query, state.maxPageSize));
    res.json({ tasklists: page.items.map(tasklistV3), meta: page.meta, included: {} });
  });

  router.get(`${v3}/tasks.json`, (req, res) => {
    const installation = siteOf(res);
    const tasks = listed(installation, 'tasks', installation.tasks, req.query, taskFilter(req.query));
    const page = paginate(tasks, parsePageRequest(req.query, state.maxPageSize));
    res.json({ tasks: page.items.map(taskV3), meta: page.meta, included: {} });
  });

  router.post(`${v3}/tasklists/:id/tasks.json`, (req, res) => {
    const { task: input } = parseInput(v3TaskBodySchema, req.body);
    res.status(201).json({ task: taskV3(createTask(siteOf(res), recordId(req), input)) });
  });

  router.get(`${v3}/tasks/:id.json`, (req, res) => {
    res.json({ task: taskV3(activeTask(siteOf(res), recordId(req))) });
  });

  router.patch(`${v3}/tasks/:id.json`, (req, res) => {
    const installation = siteOf(res);
    const id = recordId(req);
    activeTask(installation, id);
    const { task: patch } = parseInput(v3TaskBodySchema, req.body);
    res.json({ task: taskV3(updateTask(installation, id, patch)) });
  });

  router.delete(`${v3}/tasks/:id.json`, (req, res) => {
    deleteTask(siteOf(res), recordId(req));
    res.status(204).send();
  });

  return router;
}
