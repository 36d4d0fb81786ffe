/**
 * A real Peek server and client service for the tests, started from the
 * repository's Python (`PEEK_PYTHON`, default `<repo>/.venv/bin/python`), and
 * helpers to talk to them.
 */

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { filter, firstValueFrom, timeout, type Observable } from "rxjs";
import WebSocket from "ws";

import { decodeFrame, type Header, type WebSocketFactory, type WebSocketLike } from "../src/index.js";

/** ui/vortex, from build/test/. */
const PACKAGE = fileURLToPath(new URL("../../", import.meta.url));
const REPO = join(PACKAGE, "..", "..");
const HELPER = join(PACKAGE, "test", "peek_stack.py");
export const PYTHON = process.env.PEEK_PYTHON ?? join(REPO, ".venv", "bin", "python");
const BOOT_MS = 60_000;

/** Run the Python helper; its JSON answer. */
export function helper(args: string[], input = ""): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [HELPER, ...args], { cwd: REPO, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${HELPER} ${args.join(" ")}: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
    child.stdin?.end(input);
  });
}

export async function until(what: string, check: () => Promise<boolean> | boolean, withinMs = BOOT_MS): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The first value of `source` that passes `predicate`, within `ms`. */
export function next<T>(source: Observable<T>, predicate: (value: T) => boolean = () => true, ms = 15_000): Promise<T> {
  return firstValueFrom(source.pipe(filter(predicate), timeout(ms)));
}

interface Setup {
  config: string;
  ports: { admin: number; exchange: number; user: number };
  username: string;
  password: string;
}

/** A server and a client service in their own processes; the client can be killed and restarted. */
export class PeekStack {
  server: ChildProcess | null = null;
  client: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly setup: Setup,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.setup.ports.user}`;
  }

  get username(): string {
    return this.setup.username;
  }

  get password(): string {
    return this.setup.password;
  }

  static async start(): Promise<PeekStack> {
    const dir = await mkdtemp(join(tmpdir(), "peek-vortex-ts-"));
    const stack = new PeekStack(dir, (await helper(["setup", dir])) as Setup);
    try {
      stack.server = stack.spawn("server");
      await stack.healthy(stack.setup.ports.admin);
      await stack.startClient();
    } catch (exc) {
      await stack.stop();
      throw exc;
    }
    return stack;
  }

  private spawn(kind: "server" | "client"): ChildProcess {
    const log = openSync(join(this.dir, `${kind}.log`), "a");
    try {
      return spawn(PYTHON, ["-m", "peek", kind, "--config", this.setup.config], {
        cwd: REPO,
        stdio: ["ignore", log, log],
        env: { ...process.env, PYTHONUNBUFFERED: "1" },
      });
    } finally {
      closeSync(log);
    }
  }

  private async healthy(port: number): Promise<void> {
    await until(`healthz on port ${port} (logs in ${this.dir})`, async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
      } catch {
        return false;
      }
    });
  }

  /** Start the client service and wait until it has linked up with the server (logins work). */
  async startClient(): Promise<void> {
    this.client = this.spawn("client");
    await this.healthy(this.setup.ports.user);
    await until(`the client's link to the server (logs in ${this.dir})`, async () => {
      const response = await fetch(`${this.url}/vortex/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: this.username, password: this.password }),
      });
      return response.status === 200;
    });
  }

  /** Send `signal` to the client service; for SIGKILL wait until it is gone. */
  async signalClient(signal: NodeJS.Signals): Promise<void> {
    const child = this.client;
    if (child === null || child.exitCode !== null) return;
    if (signal === "SIGKILL") {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill(signal);
      await gone;
      this.client = null;
    } else {
      child.kill(signal);
    }
  }

  log(kind: "server" | "client"): string {
    return readFileSync(join(this.dir, `${kind}.log`), "utf-8");
  }

  async stop(): Promise<void> {
    for (const child of [this.client, this.server]) {
      if (child === null || child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Sockets from the `ws` package with the session as a Bearer header; `sent` gets every frame's header. */
export function recordingSockets(sent: Header[] = []): WebSocketFactory {
  return (url, session) => {
    const socket = new WebSocket(url, { headers: session === null ? {} : { Authorization: `Bearer ${session}` } });
    const send = socket.send.bind(socket);
    socket.send = ((data: Uint8Array) => {
      sent.push(decodeFrame(data).header);
      send(data);
    }) as typeof socket.send;
    return socket as unknown as WebSocketLike;
  };
}
