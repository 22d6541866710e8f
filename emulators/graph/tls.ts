import { generate } from 'selfsigned';

export interface TestCertificates {
  /** PEM of the throwaway CA that signed the server certificate: the only thing clients must trust. */
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

/**
 * A fresh CA plus a server certificate for the loopback names, generated in-process by `selfsigned`
 * (pure JS, no openssl binary, no network). The CA key is discarded after signing, so nothing but
 * this emulator instance can ever present a certificate the test CA vouches for.
 */
export async function generateTestCertificates(host: string): Promise<TestCertificates> {
  const oneDayAgo = new Date(Date.now() - 86_400_000);
  const inThirtyDays = new Date(Date.now() + 30 * 86_400_000);
  const ca = await generate([{ name: 'commonName', value: 'deskbridge Graph emulator test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: oneDayAgo,
    notAfterDate: inThirtyDays,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const ipHosts = new Set(['127.0.0.1', '::1']);
  if (/^[\d.]+$/.test(host) || host.includes(':')) ipHosts.add(host);
  const dnsHosts = new Set(['localhost']);
  if (!ipHosts.has(host)) dnsHosts.add(host);
  const server = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: oneDayAgo,
    notAfterDate: inThirtyDays,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...[...dnsHosts].map((value) => ({ type: 2 as const, value })),
          ...[...ipHosts].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { caPem: ca.cert, serverCertPem: server.cert, serverKeyPem: server.private };
}
