export interface DaemonInit { dataDir: string }
export interface Daemon { stop(): Promise<void> }
export async function startDaemon (init: DaemonInit): Promise<Daemon> { throw new Error('todo') }
