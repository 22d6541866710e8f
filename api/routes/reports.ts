import { z } from 'zod';
import { TicketModel, ticketStatuses } from '../../models';
import { visibleTicketFilter } from '../access/inbox-access';
import type { RouteTable } from '../routing';
import { errorResponses } from '../schemas';
import type { AppDeps } from '../deps';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a calendar day');

export const ticketReportQuerySchema = z
  .strictObject({
    from: day,
    to: day,
    /** The in-app "Exclude work emails" filter (I10). */
    excludeWorkEmails: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
    /** The API's spelling of the same: inbox types to leave out, comma-separated. */
    excludeInboxTypes: z
      .string()
      .transform((v) => v.split(',').map((t) => t.trim()).filter(Boolean))
      .pipe(z.array(z.enum(['individual', 'team'])))
      .optional(),
  })
  .refine((q) => q.from <= q.to, { message: 'from must not be after to', path: ['from'] })
  .refine((q) => (Date.parse(q.to) - Date.parse(q.from)) / 86_400_000 <= 366, { message: 'at most 366 days', path: ['to'] });

const countsSchema = z.record(z.string(), z.number().int());
export const ticketReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  total: z.number().int(),
  byStatus: countsSchema,
  byInbox: countsSchema,
  byDay: countsSchema,
});

/**
 * Ticket counts by status, inbox and day (I10). Scoped like every ticket read: a report never
 * counts tickets of inboxes the caller may not see. Grouping runs in the database on the
 * stored `createdDay`, which works on MongoDB and FerretDB alike.
 */
export function addReportRoutes(routes: RouteTable, _deps: AppDeps): void {
  routes.add({
    method: 'get', path: '/api/reports/tickets', tag: 'reports', auth: 'user',
    summary: 'Ticket counts by status, inbox and day; excludeWorkEmails / excludeInboxTypes leave out individual inboxes (I10)',
    query: ticketReportQuerySchema,
    responses: { 200: { description: 'Counts', schema: ticketReportSchema }, 400: errorResponses[400], 401: errorResponses[401] },
  }, async ({ actor, query, res }) => {
    const excluded = new Set([...(query.excludeInboxTypes ?? []), ...(query.excludeWorkEmails ? ['individual'] : [])]);
    const match: Record<string, unknown> = { ...(await visibleTicketFilter(actor)), createdDay: { $gte: query.from, $lte: query.to } };
    if (excluded.size > 0) match.inboxType = { $nin: [...excluded] };
    const groups = await TicketModel.aggregate<{ _id: { status: string; inboxId: unknown; day: string }; n: number }>([
      { $match: match },
      { $group: { _id: { status: '$status', inboxId: '$inboxId', day: '$createdDay' }, n: { $sum: 1 } } },
    ]);
    const byStatus: Record<string, number> = Object.fromEntries(ticketStatuses.map((s) => [s, 0]));
    const byInbox: Record<string, number> = {};
    const byDay: Record<string, number> = {};
    let total = 0;
    for (const { _id, n } of groups) {
      total += n;
      byStatus[_id.status] = (byStatus[_id.status] ?? 0) + n;
      byInbox[String(_id.inboxId)] = (byInbox[String(_id.inboxId)] ?? 0) + n;
      byDay[_id.day] = (byDay[_id.day] ?? 0) + n;
    }
    res.json({ from: query.from, to: query.to, total, byStatus, byInbox, byDay });
  });
}
