/** The DHT's settings, apart from the DHT itself so the config and the CLI load without it. */

export const DHT_MODES = ['auto', 'server', 'client', 'off'] as const
/**
 * 'server' answers queries and stores card records for others; 'client' only asks; 'auto' is a
 * client that becomes a server once the node has a public address; 'off' runs no DHT.
 */
export type DhtMode = typeof DHT_MODES[number]

export const DHT_ADDRESSES = ['public', 'all'] as const
/**
 * Which peer addresses the DHT passes on and dials: 'public' drops loopback and private ones, as
 * a DHT spanning the internet must; 'all' keeps them, for a DHT inside one LAN or a test lab.
 */
export type DhtAddresses = typeof DHT_ADDRESSES[number]

/** Discovered relays a node keeps. */
export const DEFAULT_AUTO_RELAYS = 2
/** How long a discovered relay may be unreachable before it is replaced. */
export const DEFAULT_RELAY_REPLACE_AFTER_MS = 60_000
