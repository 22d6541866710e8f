import request from 'supertest';
import { Types } from 'mongoose';
import { InboxModel, TicketModel } from '../../models';
import { bearer, signUpLinkedSite } from '../../test/support/sites';
import type { ScenarioContext } from './scenario';

export interface TicketWithTasklist {
  installation: string;
  tasklistId: number;
  /** POSTs a task from the ticket as the site owner and answers the pending ticket task. */
  createTask(title: string): Promise<{ id: string; workflowId: string }>;
}

/** A linked site (webhooks registered), one inbox with one ticket, and a Teamwork.com task list. */
export async function ticketWithTasklist({ system, teamwork, waitUntilClosed }: ScenarioContext): Promise<TicketWithTasklist> {
  const site = await signUpLinkedSite(system, teamwork);
  await waitUntilClosed(site.workflowId!);
  const siteId = new Types.ObjectId(site.siteId);
  const owner = new Types.ObjectId();
  const inbox = await InboxModel.create({ siteId, name: 'Owner mail', provider: 'gmail', createdBy: owner });
  const at = new Date('2026-11-02T10:00:00Z');
  const ticket = await TicketModel.create({ siteId, inboxId: inbox._id, subject: 'Invoice question', threadKey: `${inbox._id}:thread-1`, firstMessageAt: at, lastMessageAt: at, createdDay: '2026-11-02' });
  const project = teamwork.control.createProject({ installation: site.installation, name: 'Client requests' });
  const tasklistId = teamwork.control.createTasklist({ installation: site.installation, projectId: project.id, name: 'From the helpdesk' }).id;
  return {
    installation: site.installation,
    tasklistId,
    async createTask(title) {
      const res = await request(system.app).post(`/api/tickets/${ticket._id}/tasks`).set(bearer(site.token)).send({ tasklistId, title, description: 'Customer asks about invoice 42', dueDate: '2026-12-01' });
      if (res.status !== 202) throw new Error(`creating a task answered ${res.status}: ${JSON.stringify(res.body)}`);
      return { id: res.body.id, workflowId: res.body.workflowId };
    },
  };
}
