import request from 'supertest';
import { Types } from 'mongoose';
import { startTeamworkEmulator, type TeamworkEmulator } from '../../emulators/teamwork';
import { InboxModel, TicketModel, TicketTaskModel, ticketTaskMarker } from '../../models';
import { startTestSystem, type TestSystem } from '../support/system';
import { bearer, signUpLinkedSite, waitForSync, type SignedUpSite } from '../support/sites';
import { eventually } from '../support/eventually';

describe('tasks from tickets (I13, I8)', () => {
  let system: TestSystem;
  let teamwork: TeamworkEmulator;
  let site: SignedUpSite;
  const tokens: Record<'owner' | 'creator' | 'replier' | 'reader' | 'outsider', string> = { owner: '', creator: '', replier: '', reader: '', outsider: '' };
  let ticketId: string;
  let tasklistId: number;
  let assigneeId: number;

  beforeAll(async () => {
    [system, teamwork] = await Promise.all([startTestSystem(), startTeamworkEmulator({ rateLimitPerMinute: 0, webhookRetryDelaysMs: [200, 500] })]);
    site = await signUpLinkedSite(system, teamwork);
    await waitForSync(system, site.token);
    tokens.owner = site.token;
    const userIds: Record<string, Types.ObjectId> = {};
    for (const name of ['creator', 'replier', 'reader', 'outsider'] as const) {
      const invited = await request(system.app).post('/api/users').set(bearer(site.token)).send({ email: `${name}@tasks.example.com`, firstName: name, lastName: 'Agent', role: 'agent' });
      tokens[name] = invited.body.token;
      userIds[name] = new Types.ObjectId(invited.body.id as string);
    }
    const siteId = new Types.ObjectId(site.siteId);
    const inbox = await InboxModel.create({
      siteId, name: "Creator's mail", provider: 'gmail', createdBy: userIds.creator,
      members: [{ userId: userIds.replier, access: 'read_reply' }, { userId: userIds.reader, access: 'read_only' }],
    });
    const at = new Date('2026-11-02T10:00:00Z');
    const ticket = await TicketModel.create({ siteId, inboxId: inbox._id, subject: 'Invoice question', threadKey: `${inbox._id}:thread-1`, firstMessageAt: at, lastMessageAt: at, createdDay: '2026-11-02' });
    ticketId = String(ticket._id);

    const project = teamwork.control.createProject({ installation: site.installation, name: 'Client requests' });
    tasklistId = teamwork.control.createTasklist({ installation: site.installation, projectId: project.id, name: 'From the helpdesk' }).id;
    assigneeId = teamwork.control.listPeople({ installation: site.installation }).find((p) => p.type === 'account')!.id;
  });
  afterAll(async () => {
    await teamwork?.close();
    await system?.stop();
  });

  const createTask = (token: string, body: object, ticket = ticketId) => request(system.app).post(`/api/tickets/${ticket}/tasks`).set(bearer(token)).send(body);
  const listTasks = (token: string) => request(system.app).get(`/api/tickets/${ticketId}/tasks`).set(bearer(token));
  const taskOf = async (id: string) => (await listTasks(tokens.owner)).body.items.find((t: { id: string }) => t.id === id);
  const settledTask = (id: string) => eventually(() => taskOf(id), (t) => t?.state !== 'pending', 20_000);
  const teamworkTasksWithMarker = (ticketTaskId: string) => teamwork.control.listTasks({ installation: site.installation }).filter((t) => t.description.includes(ticketTaskMarker(ticketTaskId)));

  test.each(['owner', 'creator', 'replier'] as const)('I13 I8 When the %s (read_reply access or more) creates a task from a ticket, Then 202 and the Teamwork.com task exists and links back to the ticket', async (who) => {
    const res = await createTask(tokens[who], { tasklistId, title: `Call back (${who})`, description: 'Customer asks about invoice 42', assigneeId, dueDate: '2026-12-01' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ticketId, tasklistId, title: `Call back (${who})`, state: 'pending', teamworkTaskId: null });

    const task = await settledTask(res.body.id);
    expect(task).toMatchObject({ state: 'new', progress: 0, failure: null });
    const [created] = teamworkTasksWithMarker(res.body.id);
    expect(created).toMatchObject({ id: task.teamworkTaskId, name: `Call back (${who})`, tasklistId, assigneeUserIds: [assigneeId], dueAt: '2026-12-01', status: 'new' });
    expect(created!.description).toContain('Customer asks about invoice 42');
    expect(created!.description).toContain(`${system.apiUrl}/api/tickets/${ticketId}`);
  });

  test('I8 I13 When a read_only member creates a task, Then 403 and nothing is written; they still see the ticket\'s tasks', async () => {
    const before = await TicketTaskModel.countDocuments({ ticketId });
    const res = await createTask(tokens.reader, { tasklistId, title: 'Not allowed' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await TicketTaskModel.countDocuments({ ticketId })).toBe(before);
    const listed = await listTasks(tokens.reader);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(before);
  });

  test('I8 I13 When someone who is not on the inbox creates or lists tasks, Then 404 and nothing is written', async () => {
    const before = await TicketTaskModel.countDocuments({ ticketId });
    expect((await createTask(tokens.outsider, { tasklistId, title: 'Not visible' })).status).toBe(404);
    expect((await listTasks(tokens.outsider)).status).toBe(404);
    expect((await createTask(tokens.owner, { tasklistId, title: 'No such ticket' }, String(new Types.ObjectId()))).status).toBe(404);
    expect(await TicketTaskModel.countDocuments({ ticketId })).toBe(before);
  });

  test('I13 When the creation response is lost after Teamwork.com made the task, Then the retry adopts it and exactly one task exists', async () => {
    teamwork.control.clearRequestLog();
    teamwork.control.injectFaults({ failRequest: { method: 'POST', pathIncludes: `/tasklists/${tasklistId}/tasks.json`, status: 503, afterCommit: true } });
    const res = await createTask(tokens.replier, { tasklistId, title: 'Lost response', requestId: 'lost-response-1' });
    expect(res.status).toBe(202);

    const task = await settledTask(res.body.id);
    expect(task).toMatchObject({ state: 'new', requestId: 'lost-response-1' });
    const made = teamworkTasksWithMarker(res.body.id);
    expect(made).toHaveLength(1);
    expect(made[0]!.id).toBe(task.teamworkTaskId);
    const creations = teamwork.control.requestLog({ installation: site.installation }).filter((r) => r.method === 'POST' && r.path.includes('/tasks.json'));
    expect(creations).toHaveLength(1);
    const outcome = await system.runtime.temporal.workflow.getHandle(res.body.workflowId).result();
    expect(outcome).toEqual({ teamworkTaskId: task.teamworkTaskId, adopted: true });

    const repeated = await createTask(tokens.replier, { tasklistId, title: 'Lost response', requestId: 'lost-response-1' });
    expect(repeated.status).toBe(202);
    expect(repeated.body.id).toBe(res.body.id);
    await system.runtime.temporal.workflow.getHandle(res.body.workflowId).result();
    expect(teamworkTasksWithMarker(res.body.id)).toHaveLength(1);
    expect(teamwork.control.listTasks({ installation: site.installation }).filter((t) => t.name === 'Lost response')).toHaveLength(1);
  });

  test('I13 When a requestId is reused for a different task, Then 409 and nothing is written', async () => {
    await createTask(tokens.owner, { tasklistId, title: 'First use', requestId: 'reused-1' });
    const before = await TicketTaskModel.countDocuments({ ticketId });
    const res = await createTask(tokens.owner, { tasklistId, title: 'Something else', requestId: 'reused-1' });
    expect(res.status).toBe(409);
    expect(await TicketTaskModel.countDocuments({ ticketId })).toBe(before);
  });

  test('I13 When the task is completed, reopened and deleted in Teamwork.com, Then the ticket shows each state', async () => {
    const res = await createTask(tokens.creator, { tasklistId, title: 'Follow the state' });
    const task = await settledTask(res.body.id);
    const on = { installation: site.installation, id: task.teamworkTaskId as number };

    teamwork.control.completeTask(on);
    expect(await eventually(() => taskOf(res.body.id), (t) => t.state === 'completed')).toMatchObject({ state: 'completed', progress: 100 });
    teamwork.control.updateTask({ ...on, patch: { status: 'reopened', progress: 40 } });
    expect(await eventually(() => taskOf(res.body.id), (t) => t.state === 'reopened')).toMatchObject({ state: 'reopened', progress: 40 });
    teamwork.control.deleteTask(on);
    expect(await eventually(() => taskOf(res.body.id), (t) => t.state === 'deleted')).toMatchObject({ state: 'deleted' });
  });

  test('I13 When Teamwork.com refuses the task (unknown task list), Then the ticket task shows the failure', async () => {
    const res = await createTask(tokens.owner, { tasklistId: 999_999, title: 'Nowhere to go' });
    expect(res.status).toBe(202);
    const task = await settledTask(res.body.id);
    expect(task).toMatchObject({ state: 'failed', teamworkTaskId: null, failure: { type: 'TeamworkNotFound' } });
  });

  test.each([
    ['an unknown field', { tasklistId: 1, title: 'x', priority: 'high' }],
    ['no title', { tasklistId: 1 }],
    ['a blank title', { tasklistId: 1, title: '   ' }],
    ['a task list id as text', { tasklistId: '1', title: 'x' }],
    ['a due date that is no calendar day', { tasklistId: 1, title: 'x', dueDate: '2026-02-30' }],
    ['a due date with a time', { tasklistId: 1, title: 'x', dueDate: '2026-02-03T10:00:00Z' }],
    ['a fractional assignee id', { tasklistId: 1, title: 'x', assigneeId: 1.5 }],
    ['a requestId with spaces', { tasklistId: 1, title: 'x', requestId: 'a b' }],
  ])('I13 When the body has %s, Then 400 problem+json and nothing is written', async (_case, body) => {
    const before = await TicketTaskModel.countDocuments({ ticketId });
    const res = await createTask(tokens.owner, body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await TicketTaskModel.countDocuments({ ticketId })).toBe(before);
  });
});
