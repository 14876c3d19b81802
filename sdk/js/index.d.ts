// Types of the isol8 HTTP API. Each interface mirrors the component schema of the same name in
// docs/openapi.json (SessionInfo: Session); test/types.test.js fails when they differ.

export type Runtime = "python" | "node" | "bun" | "deno" | "bash" | "agent";
export type Size = number | string;

export interface ExecutionRequest {
  code?: string;
  cmd?: string;
  runtime: Runtime;
  timeoutMs?: number;
  env?: Record<string, string>;
  fileExtension?: string;
  stdin?: string;
  args?: string[];
  files?: Record<string, string>;
  outputPaths?: string[];
  installPackages?: string[];
  metadata?: Record<string, unknown>;
  codeUrl?: string;
  codeHash?: string;
  allowInsecureCodeUrl?: boolean;
  workdir?: string;
  setupScript?: string;
  agentFlags?: string;
}

export interface NetworkFilter {
  whitelist?: string[];
  blacklist?: string[];
}

export interface Isol8Options {
  network?: "none" | "host" | "filtered";
  isolation?: "runc" | "runsc";
  networkFilter?: NetworkFilter;
  cpuLimit?: number;
  memoryLimit?: Size;
  sandboxSize?: Size;
  tmpSize?: Size;
  maxOutputSize?: Size;
  pidsLimit?: number;
  readonlyRootFs?: boolean;
  secrets?: Record<string, string>;
  timeoutMs?: number;
  image?: string;
  persist?: boolean;
  persistTtlMs?: number;
  debug?: boolean;
  logNetwork?: boolean;
  mode?: string;
  security?: Record<string, unknown>;
  audit?: Record<string, unknown>;
  poolStrategy?: string;
  poolSize?: unknown;
  remoteCode?: Record<string, unknown>;
}

export interface Limits {
  memoryLimit?: string;
  memoryBytes?: number;
  cpuLimit?: number;
  pidsLimit?: number;
  timeoutMs?: number;
  sandboxSize?: string;
  tmpSize?: string;
  maxOutputSize?: number;
  network?: "none" | "host" | "filtered";
  readonlyRootFs?: boolean;
}

export interface Timings {
  acquireMs?: number;
  injectMs?: number;
  installMs?: number;
  setupMs?: number;
  execMs?: number;
  startedAtMs?: number;
  firstByteAtMs?: number;
  exitedAtMs?: number;
  totalMs?: number;
  standby?: boolean;
  isolation?: "runc" | "runsc";
  execPath?: "agent" | "docker-exec";
  fallback?: string;
}

export interface NetworkLogEntry {
  timestamp: string;
  method: string;
  host: string;
  port?: number;
  path: string | null;
  action: "ALLOW" | "BLOCK";
  durationMs: number;
  bytesUp?: number;
  bytesDown?: number;
}

export interface ResourceUsage {
  cpuPercent?: number;
  memoryMB?: number;
  peakMemoryMB?: number;
  networkBytesIn?: number | null;
  networkBytesOut?: number | null;
  cpuTimeMs?: number;
  cpuTimeUs?: number;
  memoryBytes?: number;
  peakMemoryBytes?: number;
  peakMemoryScope?: "run" | "sandbox";
}

export interface ExecutionResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
  truncated: boolean;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  stdoutBytes?: number;
  stderrBytes?: number;
  timedOut?: boolean;
  oomKilled?: boolean;
  executionId: string;
  runtime: string;
  timestamp: string;
  containerId?: string;
  image?: string;
  sessionId?: string;
  persisted?: boolean;
  persistTtlMs?: number;
  expiresAt?: string;
  notice?: string;
  limits?: Limits;
  timings?: Timings;
  networkLogs?: NetworkLogEntry[];
  /** outputPaths: path -> base64 content */
  files?: Record<string, string>;
  /** outputPaths that gave no file: path -> why */
  fileErrors?: Record<string, string>;
  resourceUsage?: ResourceUsage;
}

export interface FilesEventData {
  files?: Record<string, string>;
  fileErrors?: Record<string, string>;
}

export interface StreamEvent {
  type: "stdout" | "stderr" | "exit" | "error" | "files";
  /** for exit: the exit code as a decimal string; for files: the outputPaths */
  data: string | FilesEventData;
  phase?: "setup" | "code";
  /** on the program's exit event: the run's usage, as in ExecutionResult */
  resourceUsage?: ResourceUsage;
  /** WebSocket only, on the error of an execute that could not start: the HTTP status SSE
   * answers it with (executeStream rejects with it; never yielded) */
  status?: number;
}

export interface SessionInfo {
  id: string;
  isActive: boolean;
  /** ISO-8601 */
  lastAccessedAt: string;
  runtime: string;
  containerId: string;
  /** ms since the epoch */
  createdAt: number;
  /** ms since the epoch */
  lastUsedAt: number;
  idleMs: number;
  active?: boolean;
}

export interface RemoteIsol8Options {
  /** Base URL of `isol8 serve`, e.g. "http://127.0.0.1:3000" */
  host: string;
  /** Bearer key */
  apiKey?: string;
  /** Run in this persistent session (created by the first execute; stop() deletes it) */
  sessionId?: string;
  /** Engine options sent with every run, bounded by the key's policy */
  options?: Isol8Options;
  /** How executeStream streams: "ws" (GET /execute/ws, needs globalThis.WebSocket), "sse"
   * (POST /execute/stream) or "auto" (default: WebSocket where there is one and the server
   * offers it, else SSE) */
  transport?: Transport;
}

export type Transport = "auto" | "ws" | "sse";

export declare class Isol8Error extends Error {
  constructor(message: string, info?: { status?: number; error?: string; body?: unknown });
  /** HTTP status; undefined when the server was not reached */
  readonly status?: number;
  /** the server's {"error": ...} text */
  readonly error?: string;
  readonly body?: unknown;
}

export declare class RemoteIsol8 {
  constructor(opts: RemoteIsol8Options);
  readonly host: string;
  apiKey?: string;
  sessionId?: string;
  options?: Isol8Options;
  transport: Transport;
  /** what the last executeStream used */
  lastTransport?: "ws" | "sse";
  /** the server's version, after start() */
  version?: string;
  /** session id -> the node (X-Isol8-Node) that answered its first request */
  readonly nodes: Map<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  execute(req: ExecutionRequest): Promise<ExecutionResult>;
  executeStream(req: ExecutionRequest): AsyncGenerator<StreamEvent, void, undefined>;
  putFile(path: string, content: string | Uint8Array): Promise<void>;
  getFile(path: string): Promise<Uint8Array>;
  listSessions(): Promise<SessionInfo[]>;
  deleteSession(id: string): Promise<void>;
}

export default RemoteIsol8;
