/** Interface the operator endpoint binds to unless told otherwise: metrics are not for the network. */
export const DEFAULT_OPERATOR_HOST = '127.0.0.1'

/**
 * Delivery latency buckets, seconds: a direct delivery on a LAN takes milliseconds, one through
 * a relay waits for the recipient to come back, which can take days.
 */
export const LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400]

/** Message ids whose delivery latency was observed, kept so that a later 'read' is not observed again. */
export const LATENCY_SEEN_IDS = 10_000

/** How long requests still running get at close before their connections are cut. */
export const OPERATOR_CLOSE_GRACE_MS = 2_000
