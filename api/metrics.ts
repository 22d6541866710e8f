import type { RequestHandler } from 'express';
import { Counter, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { z } from 'zod';
import { exposition, processMetrics } from '../lib/metrics';
import type { RouteTable } from './routing';

export function registerDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'deskbridge_' });
}

/** Request counts and latency by route pattern (never by raw path: ids would explode cardinality). */
export function httpMetrics(registry: Registry): RequestHandler {
  const requests =
    (registry.getSingleMetric('deskbridge_http_requests_total') as Counter<string> | undefined) ??
    new Counter({ name: 'deskbridge_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency =
    (registry.getSingleMetric('deskbridge_http_request_seconds') as Histogram<string> | undefined) ??
    new Histogram({ name: 'deskbridge_http_request_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'], registers: [registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3] });
  return (req, res, next) => {
    const end = latency.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
}

/** GET /metrics: this process's HTTP metrics and the counters of lib/metrics, for Prometheus. */
export function addMetricsRoutes(routes: RouteTable, registry: Registry): void {
  routes.add({
    method: 'get', path: '/metrics', tag: 'operations', auth: 'none', summary: 'Prometheus metrics (text exposition format)',
    responses: { 200: { description: 'Current metric values', schema: z.string(), contentType: 'text/plain; version=0.0.4' } },
  }, async ({ res }) => {
    res.type(registry.contentType).send(await exposition([registry, processMetrics]));
  });
}
