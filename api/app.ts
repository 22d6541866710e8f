import express, { type Express } from 'express';
import type { AppDeps } from './deps';
import { createErrorHandler, notFoundHandler } from './problem';
import { authenticate } from './auth';
import { addMetricsRoutes, httpMetrics } from './metrics';
import { RouteTable } from './routing';
import { addHealthRoutes } from './routes/health';
import { addSignupRoutes } from './routes/signup';
import { addSyncRoutes } from './routes/sync';
import { addCompanyRoutes } from './routes/companies';
import { addCustomerRoutes } from './routes/customers';
import { addSettingsRoutes } from './routes/settings';
import { addUserRoutes } from './routes/users';
import { addTeamworkWebhookRoutes } from './routes/teamwork-webhook';
import { addInboxRoutes } from './routes/inboxes';
import { addTicketRoutes } from './routes/tickets';
import { addTicketActionRoutes } from './routes/ticket-actions';
import { addTicketTaskRoutes } from './routes/ticket-tasks';
import { addOAuthRoutes } from './routes/oauth';
import { addMailWebhookRoutes } from './routes/mail-webhooks';
import { addDocsRoutes } from './routes/docs';
import { addReportRoutes } from './routes/reports';

/** Every route of the API, declared once (see RouteTable). */
export function buildRouteTable(deps: AppDeps): RouteTable {
  const routes = new RouteTable(authenticate(deps));
  addHealthRoutes(routes, deps);
  addSignupRoutes(routes, deps);
  addSyncRoutes(routes, deps);
  addCompanyRoutes(routes, deps);
  addCustomerRoutes(routes, deps);
  addSettingsRoutes(routes, deps);
  addUserRoutes(routes, deps);
  addTeamworkWebhookRoutes(routes, deps);
  addReportRoutes(routes, deps);
  addInboxRoutes(routes, deps);
  addTicketRoutes(routes, deps);
  addTicketActionRoutes(routes, deps);
  addTicketTaskRoutes(routes, deps);
  addOAuthRoutes(routes, deps);
  addMailWebhookRoutes(routes, deps);
  addMetricsRoutes(routes, deps.metrics);
  addDocsRoutes(routes, deps);
  return routes;
}

/** Builds the Express app without listening, so tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const routes = buildRouteTable(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.locals.routes = routes;
  app.use(httpMetrics(deps.metrics));
  app.use('/api', express.json({ limit: '256kb', strict: true }));
  // Signatures are computed over the exact bytes sent, so this body is never parsed before checking.
  app.use('/webhooks/teamwork', express.raw({ type: () => true, limit: '1mb' }));
  app.use(['/webhooks/gmail', '/webhooks/graph'], express.raw({ type: () => true, limit: '1mb' }));
  app.use(routes.router);
  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.logger));
  return app;
}
