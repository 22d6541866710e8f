import { MiddlewareFactory, type ClientOptions } from '@microsoft/microsoft-graph-client';
import { CaTrustingHttpHandler } from '../../lib/ca-trusting-http-handler';
/**
 * The complete `Client.initWithMiddleware` options for talking to the emulator:
 * - `baseUrl` is the emulator origin; requests go to `${baseUrl}/v1.0/...`.
 * - `customHosts` must name the host without port, or the AuthenticationHandler never attaches
 *   the bearer token (it only does so for graph.microsoft.com and custom hosts over https).
 * - `middleware` is the SDK's default chain with the transport swapped for one trusting `caPem`
 *   (`authProvider` and `middleware` are mutually exclusive in the SDK, so auth lives in the chain).
 */
export function emulatorGraphClientOptions(
  emulator: { url: string; caPem: string },
  getAccessToken: () => Promise<string>,
): ClientOptions {
  const chain = MiddlewareFactory.getDefaultMiddlewareChain({ getAccessToken });
  chain[chain.length - 1] = new CaTrustingHttpHandler(emulator.caPem);
  return {
    baseUrl: emulator.url,
    defaultVersion: 'v1.0',
    customHosts: new Set([new URL(emulator.url).hostname]),
    middleware: chain,
  };
}
