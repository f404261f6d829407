/**
 * A minimal CRI client (Kubernetes' Container Runtime Interface, k8s.io/cri-api runtime.v1)
 * for the tests of torov-oci under containerd's CRI plugin (test/integration/cri.test.ts),
 * where no crictl is installed. It speaks gRPC itself: HTTP/2 (node:http2) over containerd's
 * Unix socket, each message a 5-byte prefix (0, then its length, big-endian) and protobuf
 * (test/oci/protobuf.ts). Only the calls and fields the tests use are here; the field
 * numbers are api.proto's.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { encode, decode, Field, Message, str, strs, sub, subs, int, uint, bytes, map, mapFields } from './protobuf';

/** A gRPC call that ended with a status other than OK (2 UNKNOWN, 5 NOT_FOUND, ...). */
export class GrpcError extends Error {
  constructor(readonly method: string, readonly code: number, readonly details: string) {
    super(`${method}: gRPC status ${code}: ${details}`);
  }
}

/** One gRPC message on the wire: uncompressed flag, 32-bit big-endian length, the message. */
export function frame(msg: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The messages of a gRPC body; throws if one is compressed or cut short. */
export function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < body.length;) {
    if (pos + 5 > body.length) throw new Error('gRPC: truncated message prefix');
    if (body[pos] !== 0) throw new Error(`gRPC: compressed message (flag ${body[pos]}), none was asked for`);
    const len = body.readUInt32BE(pos + 1);
    if (pos + 5 + len > body.length) throw new Error('gRPC: truncated message');
    out.push(body.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  return out;
}

/** A unary gRPC client on a Unix socket. */
export class GrpcClient {
  private readonly session: http2.ClientHttp2Session;
  private failure: Error | undefined;

  constructor(socketPath: string) {
    this.session = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    this.session.on('error', (e) => { this.failure = e; });
  }

  /** Calls /SERVICE/METHOD with one request message; the one response message. */
  call(method: string, request: Uint8Array, timeoutMs = 60_000): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
      });
      const chunks: Buffer[] = [];
      let status: string | undefined, message = '', httpStatus = 0;
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      stream.on('response', (h) => { httpStatus = Number(h[':status']); take(h); });
      stream.on('trailers', take);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        if (httpStatus !== 200) return reject(new Error(`${method}: HTTP status ${httpStatus || 'none'}${this.failure ? ` (${this.failure.message})` : ''}`));
        if (status === undefined) return reject(new Error(`${method}: no grpc-status`));
        if (status !== '0') return reject(new GrpcError(method, Number(status), message));
        try {
          const msgs = unframe(Buffer.concat(chunks));
          if (msgs.length !== 1) throw new Error(`${method}: ${msgs.length} response messages, expected 1`);
          resolve(msgs[0]!);
        } catch (e) { reject(e); }
      });
      stream.end(frame(request));
    });
  }

  close(): void { this.session.close(); }
}

// ---- CRI ---------------------------------------------------------------------------

const RS = '/runtime.v1.RuntimeService/';
const IS = '/runtime.v1.ImageService/';

export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
export const SandboxState = { READY: 0, NOTREADY: 1 } as const;

export interface PodConfig {
  name: string; uid: string; namespace: string; attempt?: number;
  hostname?: string; logDirectory?: string; labels?: Record<string, string>; cgroupParent?: string;
}

export interface ContainerConfig {
  name: string; image: string; command?: string[]; args?: string[]; workingDir?: string;
  envs?: Record<string, string>; logPath?: string; labels?: Record<string, string>;
}

export interface ContainerStatus {
  id: string; name: string; state: number; createdAt: number; startedAt: number; finishedAt: number;
  exitCode: number; image: string; imageRef: string; reason: string; message: string; logPath: string;
}

/** A UInt64Value wrapper: undefined when the runtime did not fill it in. */
const u64 = (m: Message, num: number): bigint | undefined => (m.has(num) ? uint(sub(m, num), 1) : undefined);

function podConfig(c: PodConfig): Field[] {
  return [
    [1, [[1, c.name], [2, c.uid], [3, c.namespace], [4, c.attempt ?? 0]]],
    [2, c.hostname],
    [3, c.logDirectory],
    ...mapFields(6, c.labels ?? {}),
    // linux: the cgroup parent, and pod-wide namespaces (network, pid, ipc: POD = 0, the default).
    [8, [[1, c.cgroupParent], [2, [[1, []]]]]],
  ];
}

function containerStatus(m: Message): ContainerStatus {
  return {
    id: str(m, 1), name: str(sub(m, 2), 1), state: int(m, 3), createdAt: int(m, 4), startedAt: int(m, 5),
    finishedAt: int(m, 6), exitCode: int(m, 7), image: str(sub(m, 8), 1), imageRef: str(m, 9), reason: str(m, 10),
    message: str(m, 11), logPath: str(m, 15),
  };
}

export class CriClient {
  private readonly grpc: GrpcClient;
  constructor(socketPath: string) { this.grpc = new GrpcClient(socketPath); }
  close(): void { this.grpc.close(); }

  private async rpc(method: string, fields: Field[], timeoutMs?: number): Promise<Message> {
    return decode(await this.grpc.call(method, encode(fields), timeoutMs));
  }

  async version(): Promise<{ version: string; runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    const m = await this.rpc(`${RS}Version`, [[1, 'v1']]);
    return { version: str(m, 1), runtimeName: str(m, 2), runtimeVersion: str(m, 3), runtimeApiVersion: str(m, 4) };
  }

  /** The runtime's conditions (RuntimeReady, NetworkReady) and, verbose, its info (the CRI config as JSON under "config"). */
  async status(verbose = false): Promise<{ conditions: Array<{ type: string; status: boolean; reason: string; message: string }>; info: Record<string, string> }> {
    const m = await this.rpc(`${RS}Status`, [[1, verbose]]);
    return {
      conditions: subs(sub(m, 1), 1).map((c) => ({ type: str(c, 1), status: uint(c, 2) !== 0n, reason: str(c, 3), message: str(c, 4) })),
      info: map(m, 2),
    };
  }

  async imageStatus(image: string): Promise<{ id: string; repoTags: string[]; size: bigint } | undefined> {
    const m = await this.rpc(`${IS}ImageStatus`, [[1, [[1, image]]]]);
    if (!m.has(1)) return undefined;
    const i = sub(m, 1);
    return { id: str(i, 1), repoTags: strs(i, 2), size: uint(i, 4) };
  }

  async runPodSandbox(config: PodConfig, runtimeHandler: string, timeoutMs = 120_000): Promise<string> {
    return str(await this.rpc(`${RS}RunPodSandbox`, [[1, podConfig(config)], [2, runtimeHandler]], timeoutMs), 1);
  }

  async podSandboxStatus(id: string, verbose = false): Promise<{ id: string; state: number; ip: string; runtimeHandler: string; info: Record<string, string> }> {
    const m = await this.rpc(`${RS}PodSandboxStatus`, [[1, id], [2, verbose]]);
    const s = sub(m, 1);
    return { id: str(s, 1), state: int(s, 3), ip: str(sub(s, 5), 1), runtimeHandler: str(s, 9), info: map(m, 2) };
  }

  async stopPodSandbox(id: string, timeoutMs = 120_000): Promise<void> { await this.rpc(`${RS}StopPodSandbox`, [[1, id]], timeoutMs); }
  async removePodSandbox(id: string, timeoutMs = 120_000): Promise<void> { await this.rpc(`${RS}RemovePodSandbox`, [[1, id]], timeoutMs); }

  async createContainer(podId: string, c: ContainerConfig, pod: PodConfig): Promise<string> {
    const config: Field[] = [
      [1, [[1, c.name]]],
      [2, [[1, c.image]]],
      ...(c.command ?? []).map((a) => [3, a] as const),
      ...(c.args ?? []).map((a) => [4, a] as const),
      [5, c.workingDir],
      ...Object.entries(c.envs ?? {}).map(([k, v]) => [6, [[1, k], [2, v]]] as const),
      ...mapFields(9, c.labels ?? {}),
      [11, c.logPath],
    ];
    return str(await this.rpc(`${RS}CreateContainer`, [[1, podId], [2, config], [3, podConfig(pod)]], 120_000), 1);
  }

  async startContainer(id: string): Promise<void> { await this.rpc(`${RS}StartContainer`, [[1, id]], 120_000); }

  /** Stops a container: its stop signal (SIGTERM), then SIGKILL after timeout seconds. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.rpc(`${RS}StopContainer`, [[1, id], [2, timeoutSeconds]], (timeoutSeconds + 60) * 1000);
  }

  async removeContainer(id: string): Promise<void> { await this.rpc(`${RS}RemoveContainer`, [[1, id]], 120_000); }

  async containerStatus(id: string, verbose = false): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    const m = await this.rpc(`${RS}ContainerStatus`, [[1, id], [2, verbose]]);
    return { status: containerStatus(sub(m, 1)), info: map(m, 2) };
  }

  async listContainers(podId?: string): Promise<Array<{ id: string; podId: string; name: string; state: number }>> {
    const m = await this.rpc(`${RS}ListContainers`, [[1, [[3, podId]]]]);
    return subs(m, 1).map((c) => ({ id: str(c, 1), podId: str(c, 2), name: str(sub(c, 3), 1), state: int(c, 6) }));
  }

  /** Runs a command in a running container (kubectl exec without a terminal); timeout in seconds, 0 none. */
  async execSync(id: string, cmd: string[], timeoutSeconds = 0): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const m = await this.rpc(`${RS}ExecSync`, [[1, id], ...cmd.map((a) => [2, a] as const), [3, timeoutSeconds]], (timeoutSeconds || 120) * 1000 + 30_000);
    return { stdout: bytes(m, 1).toString('utf8'), stderr: bytes(m, 2).toString('utf8'), exitCode: int(m, 3) };
  }

  /** New resource limits for a running container (a pod resize): the CRI plugin passes them to the runtime's `update`. */
  async updateContainerResources(id: string, r: { cpuPeriod?: number; cpuQuota?: number; cpuShares?: number; memoryLimitInBytes?: number }): Promise<void> {
    // LinuxContainerResources: cpu_period 1, cpu_quota 2, cpu_shares 3, memory_limit_in_bytes 4.
    await this.rpc(`${RS}UpdateContainerResources`, [[1, id], [2, [[1, r.cpuPeriod], [2, r.cpuQuota], [3, r.cpuShares], [4, r.memoryLimitInBytes]]]], 120_000);
  }

  /** A container's statistics (kubectl top): undefined figures were not given. */
  async containerStats(id: string): Promise<{ id: string; cpu: { timestamp: number; usageCoreNanoSeconds?: bigint }; memory: { timestamp: number; workingSetBytes?: bigint; usageBytes?: bigint; rssBytes?: bigint } }> {
    const s = sub(await this.rpc(`${RS}ContainerStats`, [[1, id]]), 1);
    const cpu = sub(s, 2), mem = sub(s, 3);
    return {
      id: str(sub(s, 1), 1),
      cpu: { timestamp: int(cpu, 1), usageCoreNanoSeconds: u64(cpu, 2) },
      memory: { timestamp: int(mem, 1), workingSetBytes: u64(mem, 2), usageBytes: u64(mem, 4), rssBytes: u64(mem, 5) },
    };
  }
}
