/** The emulator's HTTP face: the control surface under `/_emulator`, each installation under
 * `/{installation}` with Teamwork.com's documented paths below it. */
import express, { Router } from 'express';
import type { TeamworkControl } from '../control';
import type { EmulatorState } from '../state';
import { companyRoutes } from './companies';
import { controlRouter } from './control-router';
import { peopleRoutes } from './people';
import {
  authenticate,
  handleErrors,
  injectFaults,
  logRequests,
  rateLimit,
  resolveInstallation,
  routeNotFound,
} from './site-middleware';
import { webhookRoutes } from './webhooks';
import { workRoutes } from './work';

function siteRouter(state: EmulatorState): Router {
  const router = Router({ mergeParams: true });
  router.use(resolveInstallation(state));
  router.use(logRequests(state));
  router.use(authenticate(state));
  router.use(rateLimit(state));
  router.use(injectFaults(state));
  // Bodies are JSON whatever Content-Type the client sent (or forgot to send).
  router.use(express.json({ type: () => true, limit: '5mb' }));
  router.use(companyRoutes(state));
  router.use(peopleRoutes(state));
  router.use(webhookRoutes());
  router.use(workRoutes(state));
  router.use(routeNotFound);
  router.use(handleErrors);
  return router;
}

export function createApp(state: EmulatorState, control: TeamworkControl): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use('/_emulator', controlRouter(control));
  app.use('/:installation', siteRouter(state));
  return app;
}
