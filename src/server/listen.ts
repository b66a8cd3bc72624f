// Where the webhook and health ports listen. "All addresses" means IPv4 and IPv6: one socket on
// `::` with ipv6Only false takes both (IPv4 arrives as ::ffff:a.b.c.d), so a dual-stack or
// IPv6-only EKS cluster reaches the pods with the defaults. A node without IPv6 (the kernel's
// ipv6.disable=1, some hardened images) cannot bind `::`: then `0.0.0.0`, IPv4 only.

/** What serve needs of a Fastify instance to listen. */
export interface Listener {
  listen(options: { port: number; host: string; ipv6Only?: boolean }): Promise<string>;
}

/** The host value that means every IPv4 and IPv6 address (the serve default). */
export const ALL_ADDRESSES = '::';

/** Errors of binding `::` on a host without IPv6 (errno names as Node reports them). */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

export interface ListenAddresses {
  /** The dual-stack wildcard, `::` (tests give ::1, to stay on the loopback). */
  readonly any6: string;
  /** The IPv4 wildcard used when any6 cannot be bound, `0.0.0.0` (tests: 127.0.0.1). */
  readonly any4: string;
}

/**
 * Listens on `host`; for ALL_ADDRESSES (or `addresses.any6`), dual-stack, falling back to IPv4
 * where the host has no IPv6. Returns the host actually bound.
 */
export async function listenOn(
  app: Listener,
  port: number,
  host: string,
  addresses: ListenAddresses = { any6: ALL_ADDRESSES, any4: '0.0.0.0' },
): Promise<string> {
  if (host !== addresses.any6) {
    await app.listen({ port, host });
    return host;
  }
  try {
    await app.listen({ port, host, ipv6Only: false });
    return host;
  } catch (err) {
    if (!NO_IPV6.has((err as { code?: string }).code ?? '')) throw err;
    await app.listen({ port, host: addresses.any4 });
    return addresses.any4;
  }
}
