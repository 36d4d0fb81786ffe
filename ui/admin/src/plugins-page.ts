import type { PlatformPage, ShellSession } from "@peek/shell";
import { LitElement, css, html, nothing } from "@peek/shell/lit";

/** One progress event of a rollout (`GET /api/generations/{n}/events`). */
export interface RolloutEvent {
  generation: number;
  service: string;
  step: string;
  detail: string | null;
  at: string;
  state?: string;
  problems?: string[];
}

interface PluginRow {
  name: string;
  version: string;
  source: string;
}

interface ServiceRow {
  kind: string;
  name: string;
  state: string;
  generation: number | null;
  step: string | null;
  plugins?: { name: string; version: string; state?: string }[];
}

export interface PluginsBody {
  generation: number | null;
  rollout: { generation: number; state: string } | null;
  plugins: PluginRow[];
  services: ServiceRow[];
}

export interface GenerationRow {
  number: number;
  state: string;
  active: boolean;
  created_by: string;
  reason: string;
  created_at: string;
  problems: string[];
  plugins: PluginRow[];
}

interface Rollout {
  generation: number;
  steps: Map<string, { step: string; detail: string | null }>;
  done: { state: string; problems: string[] } | null;
}

// The SSE stream names each event after its step; EventSource only hands out the
// event types it was asked for, so every step the platform reports is listed here.
const STEPS = [
  "proposed", "downloading", "preparing", "prepared", "refused", "committed", "switched",
  "restarting", "restarted", "healthy", "unhealthy", "aborted", "reverting", "reverted", "failed",
  "done",
];

/** The answer of a refused request: `{"error", "message"}` (or text) to one sentence. */
export async function problemOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown; limit?: unknown };
    if (typeof body.message === "string") return body.message;
    if (typeof body.error === "string") return body.error;
  } catch {
    // not JSON: aiohttp's plain-text errors (401, 403) say it in the body
  }
  return text.trim() || `HTTP ${response.status}`;
}

/**
 * The admin app's "Plugins" page: upload a plugin (drop a file on the page or
 * pick it, with an optional detached signature and a reason), follow its
 * rollout on every service, see the active plugin set per service, remove a
 * plugin, forget a service that is down for good, and roll back to an older
 * generation from the history.
 */
export class PeekAdminPlugins extends LitElement {
  static override properties = {
    data: { state: true },
    history: { state: true },
    rollout: { state: true },
    uploading: { state: true },
    problem: { state: true },
    dragging: { state: true },
  };

  static override styles = css`
    :host { display: block; max-width: 60rem; }
    .options { display: flex; flex-wrap: wrap; gap: 0.75rem 1.5rem; margin-top: 0.75rem; text-align: left; }
    .options label { display: flex; flex-direction: column; gap: 0.25rem; font-size: 0.9rem; color: #2c3a4b; }
    .options input[type="text"] { font: inherit; padding: 0.3rem 0.5rem; min-width: 18rem; }
    h1 { margin-top: 0; }
    h2 { font-size: 1.15rem; margin: 1.75rem 0 0.5rem; }
    .drop {
      border: 2px dashed #8aa0b8; border-radius: 12px; padding: 1.5rem; text-align: center;
      background: #fff; transition: background 0.15s;
    }
    .drop.dragging { background: #e6f0fb; border-color: #16324f; }
    .drop label { color: #16324f; font-weight: 600; text-decoration: underline; cursor: pointer; }
    .drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
    .drop input:focus-visible + span { outline: 2px solid #16324f; outline-offset: 2px; }
    progress { width: 100%; height: 1rem; }
    .problem {
      border-left: 6px solid #c0392b; background: #fff5f5; color: #7a1d14; padding: 0.75rem 1rem;
      border-radius: 8px; margin: 1rem 0;
    }
    table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 8px; }
    th, td { text-align: left; padding: 0.45rem 0.7rem; border-bottom: 1px solid #e3e7ee; vertical-align: top; }
    th { font-size: 0.85rem; color: #5b6472; font-weight: 600; }
    .step { display: inline-block; padding: 0.1rem 0.55rem; border-radius: 999px; background: #eef1f5; font-size: 0.85rem; }
    .step[data-step="healthy"], .step[data-state="active"] { background: #d9f5e3; color: #17603a; }
    .step[data-step="unhealthy"], .step[data-step="refused"], .step[data-state="failed"] { background: #fde2e0; color: #8a1f17; }
    button {
      font: inherit; padding: 0.35rem 0.9rem; border-radius: 8px; border: 1px solid #16324f;
      background: #fff; color: #16324f; cursor: pointer; min-height: 36px;
    }
    button:disabled { opacity: 0.5; cursor: default; }
    small { color: #5b6472; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  `;

  session: ShellSession | null = null;
  protected data: PluginsBody | null = null;
  protected history: GenerationRow[] = [];
  protected rollout: Rollout | null = null;
  protected uploading: { name: string; percent: number } | null = null;
  protected problem = "";
  protected dragging = false;
  private events: EventSource | null = null;
  // What goes with the next upload: a detached signature file and why.
  private signature: File | null = null;
  private reason = "";

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load().then(() => {
      const running = this.data?.rollout;
      if (running && running.state !== "active" && this.rollout === null) this.follow(running.generation);
    });
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.events?.close();
    this.events = null;
  }

  private headers(): Record<string, string> {
    return { "X-Peek-CSRF": this.session?.csrfToken?.() ?? "" };
  }

  /** Fetch the plugin set and the history again. */
  async load(): Promise<void> {
    try {
      const [plugins, generations] = await Promise.all([fetch("/api/plugins"), fetch("/api/generations")]);
      if (!plugins.ok) throw new Error(await problemOf(plugins));
      if (!generations.ok) throw new Error(await problemOf(generations));
      this.data = (await plugins.json()) as PluginsBody;
      this.history = ((await generations.json()) as { generations: GenerationRow[] }).generations;
    } catch (error) {
      this.problem = `Cannot read the plugin set: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /** Follow rollout `generation` from its first event to `done` (the stream replays). */
  follow(generation: number): void {
    this.events?.close();
    const rollout: Rollout = { generation, steps: new Map(), done: null };
    this.rollout = rollout;
    const events = new EventSource(`/api/generations/${generation}/events`);
    this.events = events;
    const onEvent = (message: MessageEvent<string>): void => {
      const event = JSON.parse(message.data) as RolloutEvent;
      if (event.step === "done") {
        rollout.done = { state: event.state ?? "unknown", problems: event.problems ?? [] };
        events.close();
        void this.load();
      } else {
        rollout.steps.set(event.service, { step: event.step, detail: event.detail });
      }
      this.rollout = { ...rollout };
    };
    for (const step of STEPS) events.addEventListener(step, onEvent as EventListener);
    events.onmessage = onEvent;
  }

  /** Upload `file` with progress; on 202 follow its rollout, else show the refusal. */
  upload(file: File): void {
    this.problem = "";
    this.uploading = { name: file.name, percent: 0 };
    const form = new FormData();
    form.append("file", file, file.name);
    if (this.signature) form.append("signature", this.signature, this.signature.name);
    if (this.reason.trim()) form.append("reason", this.reason.trim());
    // fetch() reports no upload progress; XMLHttpRequest does.
    const request = new XMLHttpRequest();
    request.open("POST", "/api/plugins");
    for (const [name, value] of Object.entries(this.headers())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) this.uploading = { name: file.name, percent: Math.round((100 * event.loaded) / event.total) };
    };
    request.onload = () => {
      this.uploading = null;
      void this.answered(new Response(request.responseText, { status: request.status }));
    };
    request.onerror = () => {
      this.uploading = null;
      this.problem = `The upload of ${file.name} failed: the server cannot be reached.`;
    };
    request.send(form);
  }

  private async answered(response: Response): Promise<void> {
    if (response.status !== 202) {
      this.problem = await problemOf(response);
      return;
    }
    const body = (await response.json()) as { generation: number };
    this.follow(body.generation);
  }

  /** Roll out the plugin set without `name`, once the admin confirmed it. */
  async removePlugin(name: string): Promise<void> {
    if (!window.confirm(`Remove ${name} from every service? This rolls out a new generation without it.`)) return;
    this.problem = "";
    const response = await fetch(`/api/plugins/${encodeURIComponent(name)}`, { method: "DELETE", headers: this.headers() });
    await this.answered(response);
  }

  /** Stop waiting for a service that is down for good (it registers again if it comes back). */
  async forget(service: ServiceRow): Promise<void> {
    const who = `${service.kind} ${service.name}`;
    if (!window.confirm(`Forget ${who}? Rollouts stop waiting for it; it registers again when it reconnects.`)) return;
    this.problem = "";
    const query = new URLSearchParams({ kind: service.kind });
    const response = await fetch(`/api/services/${encodeURIComponent(service.name)}?${query.toString()}`, {
      method: "DELETE",
      headers: this.headers(),
    });
    if (!response.ok) this.problem = await problemOf(response);
    await this.load();
  }

  async rollback(generation: number): Promise<void> {
    this.problem = "";
    const response = await fetch(`/api/generations/${generation}/rollback`, { method: "POST", headers: this.headers() });
    await this.answered(response);
  }

  private onDrop(event: DragEvent): void {
    event.preventDefault();
    this.dragging = false;
    const file = event.dataTransfer?.files[0];
    if (file) this.upload(file);
  }

  private onPick(event: Event): void {
    const input = event.target as HTMLInputElement;
    const file = input.files?.[0];
    if (file) this.upload(file);
    input.value = "";
  }

  protected override render() {
    const busy = this.uploading !== null || (this.rollout !== null && this.rollout.done === null);
    return html`
      <h1>Plugins</h1>
      <section
        class=${this.dragging ? "drop dragging" : "drop"}
        data-testid="plugin-drop"
        aria-label="Upload a plugin"
        @dragover=${(e: DragEvent) => {
          e.preventDefault();
          this.dragging = true;
        }}
        @dragleave=${() => (this.dragging = false)}
        @drop=${(e: DragEvent) => this.onDrop(e)}
      >
        <p>Drop a plugin (<code>.whl</code>, <code>.zip</code> or <code>.tar.gz</code>) here, or
          <label>pick a file<input type="file" accept=".whl,.zip,.gz" ?disabled=${busy}
            @change=${(e: Event) => this.onPick(e)} /><span></span></label>.</p>
        <div class="options">
          <label>Signature (optional)
            <input type="file" name="signature" accept=".sig" ?disabled=${busy}
              @change=${(e: Event) => (this.signature = (e.target as HTMLInputElement).files?.[0] ?? null)} /></label>
          <label>Reason (kept with the generation)
            <input type="text" name="reason" maxlength="500" ?disabled=${busy} .value=${this.reason}
              @input=${(e: Event) => (this.reason = (e.target as HTMLInputElement).value)} /></label>
        </div>
        ${this.uploading
          ? html`<label>Uploading ${this.uploading.name}
              <progress max="100" value=${this.uploading.percent}>${this.uploading.percent}%</progress></label>`
          : nothing}
      </section>
      ${this.problem ? html`<p class="problem" role="alert">${this.problem}</p>` : nothing}
      ${this.renderRollout()} ${this.renderServices(busy)} ${this.renderHistory(busy)}
    `;
  }

  private renderRollout() {
    const r = this.rollout;
    if (r === null) return nothing;
    return html`<section aria-label="Rollout progress" data-generation=${r.generation}>
      <h2>Rollout of generation ${r.generation}</h2>
      <ul role="status" aria-live="polite">
        ${[...r.steps].map(
          ([service, s]) => html`<li data-service=${service}>
            ${service}: <span class="step" data-step=${s.step}>${s.step}</span>
            ${s.detail ? html`<small>${s.detail}</small>` : nothing}
          </li>`,
        )}
      </ul>
      ${r.done
        ? html`<p data-testid="rollout-outcome" data-state=${r.done.state}>
            Generation ${r.done.state === "active" ? html`${r.generation} is active on every service.` : html`${r.generation}: ${r.done.state}.`}
            ${r.done.problems.map((p) => html`<br /><small>${p}</small>`)}
          </p>`
        : nothing}
    </section>`;
  }

  private renderServices(busy: boolean) {
    const data = this.data;
    if (data === null) return html`<p>Loading the plugin set…</p>`;
    const services = data.services;
    // A service that does not list its plugins (the server) runs the active set once on its generation.
    const versionOn = (service: ServiceRow, plugin: PluginRow): string => {
      if (service.plugins === undefined) return service.generation === data.generation ? plugin.version : "?";
      return service.plugins.find((p) => p.name === plugin.name)?.version ?? "—";
    };
    return html`
      <h2>Active plugin set <small>(generation ${data.generation ?? "none"})</small></h2>
      <table data-testid="plugin-set">
        <thead>
          <tr><th scope="col">Plugin</th><th scope="col">Version</th>
            ${services.map((s) => html`<th scope="col">${s.kind} <small>${s.name}</small></th>`)}
            <th scope="col"><span class="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          ${data.plugins.map(
            (p) => html`<tr data-plugin=${p.name}>
              <th scope="row">${p.name}</th><td>${p.version}</td>
              ${services.map((s) => html`<td data-service=${s.kind}>${versionOn(s, p)}</td>`)}
              <td><button ?disabled=${busy} aria-label=${`Remove ${p.name}`}
                @click=${() => void this.removePlugin(p.name)}>Remove</button></td>
            </tr>`,
          )}
        </tbody>
      </table>
      <h2>Services</h2>
      <table data-testid="services">
        <thead><tr><th scope="col">Service</th><th scope="col">State</th><th scope="col">Generation</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          ${services.map(
            (s) => html`<tr data-service=${s.kind} data-generation=${s.generation ?? ""} data-state=${s.state}>
              <th scope="row">${s.kind} <small>${s.name}</small></th><td>${s.state}</td><td>${s.generation ?? "—"}</td>
              <td>${s.state === "down"
                ? html`<button aria-label=${`Forget ${s.kind} ${s.name}`} title="Rollouts stop waiting for it"
                    @click=${() => void this.forget(s)}>Forget</button>`
                : nothing}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }

  private renderHistory(busy: boolean) {
    return html`
      <h2>Generations</h2>
      <table data-testid="generations">
        <thead><tr><th scope="col">#</th><th scope="col">State</th><th scope="col">Plugins</th>
          <th scope="col">Why</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>
          ${this.history.map(
            (g) => html`<tr data-generation=${g.number} data-state=${g.active ? "active" : g.state}>
              <th scope="row">${g.number}</th>
              <td><span class="step" data-state=${g.active ? "active" : g.state}>${g.active ? "active" : g.state}</span></td>
              <td>${g.plugins.map((p) => `${p.name} ${p.version}`).join(", ")}</td>
              <td>${g.reason} <small>by ${g.created_by}</small>
                ${g.problems.map((p) => html`<br /><small>${p}</small>`)}</td>
              <td>${g.active
                ? nothing
                : html`<button ?disabled=${busy} aria-label=${`Roll back to generation ${g.number}`}
                    @click=${() => void this.rollback(g.number)}>Rollback</button>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

/** The "Plugins" page for `startShell`'s `platformPages`. */
export function pluginsPage(): PlatformPage {
  if (!customElements.get("peek-admin-plugins")) customElements.define("peek-admin-plugins", PeekAdminPlugins);
  return {
    route: "platform-plugins",
    title: "Plugins",
    icon: "gear",
    create: (session) => {
      const element = document.createElement("peek-admin-plugins") as PeekAdminPlugins;
      element.session = session;
      return element;
    },
  };
}
