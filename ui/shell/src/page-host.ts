import type { PageContext, Unmount } from "@peek/plugin-sdk";
import { LitElement, css, html, nothing } from "lit";

import type { ModuleLoader } from "./loader.js";
import type { PageEntry } from "./types.js";

export type ContextFactory = (entry: PageEntry) => PageContext;

type Phase = { kind: "loading" } | { kind: "mounted" } | { kind: "failed"; message: string };

/**
 * Shows one plugin page: loads its module, mounts it, and unmounts it when the
 * page changes. A module that cannot be fetched, fails its integrity check,
 * throws while loading or in `mount()` shows an error card here, and only here:
 * the rest of the shell keeps working.
 */
export class PeekPageHost extends LitElement {
  static override properties = {
    entry: { attribute: false },
    loader: { attribute: false },
    context: { attribute: false },
    subpath: { type: String },
    phase: { state: true },
  };

  entry: PageEntry | null = null;
  loader: ModuleLoader | null = null;
  context: ContextFactory | null = null;
  subpath = "";
  registerTuples: (types: readonly unknown[]) => void = () => undefined;
  protected phase: Phase = { kind: "loading" };
  private unmount: Unmount | null = null;
  private mountedKey: string | null = null;
  private generation = 0;

  static override styles = css`
    :host { display: block; }
    .loading { color: #5b6472; padding: 1rem 0; }
    .error-card {
      border: 1px solid #e0a3a3; border-left: 6px solid #c0392b; background: #fff5f5;
      border-radius: 10px; padding: 1rem 1.25rem; color: #3b1f1f; max-width: 42rem;
    }
    .error-card h2 { margin: 0 0 0.5rem; font-size: 1.1rem; color: #a12a1f; }
    .error-card p { margin: 0.25rem 0; }
    .error-card code { font-size: 0.9em; word-break: break-word; }
    .error-card button {
      margin-top: 0.75rem; font: inherit; padding: 0.5rem 1rem; border-radius: 8px;
      border: 1px solid #a12a1f; background: #fff; color: #a12a1f; cursor: pointer; min-height: 44px;
    }
  `;

  protected override render() {
    const entry = this.entry;
    return html`
      ${this.phase.kind === "loading" ? html`<p class="loading">Loading ${entry?.title ?? "page"}…</p>` : nothing}
      ${this.phase.kind === "failed" && entry
        ? html`<section class="error-card" role="alert" data-plugin=${entry.plugin}>
            <h2>${entry.title} could not be shown</h2>
            <p>The page of plugin <strong>${entry.plugin_title}</strong> (${entry.plugin}) failed to load.</p>
            <p><code>${this.phase.message}</code></p>
            <p>Other pages keep working.</p>
            <button @click=${() => this.remount(true)}>Try again</button>
          </section>`
        : nothing}
      <div class="outlet" ?hidden=${this.phase.kind !== "mounted"}><slot></slot></div>
    `;
  }

  protected override updated(): void {
    const entry = this.entry;
    const key = entry ? `${entry.module ?? entry.error}#${this.subpath}` : null;
    if (key !== this.mountedKey) {
      this.mountedKey = key;
      void this.remount(false);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.teardown();
  }

  private teardown(): void {
    this.generation += 1;
    const unmount = this.unmount;
    this.unmount = null;
    try {
      unmount?.();
    } catch {
      // A page that fails to clean up must not keep the next one from showing.
    }
    this.replaceChildren();
  }

  private async remount(_retry: boolean): Promise<void> {
    const { entry, loader, context } = this;
    this.teardown();
    const generation = this.generation;
    if (!entry || !loader || !context) return;
    this.phase = { kind: "loading" };
    try {
      const module = await loader.load(entry.module, entry.integrity, entry.error);
      if (generation !== this.generation) return;
      if (Array.isArray(module.tuples)) this.registerTuples(module.tuples);
      const mount = module.mount;
      if (typeof mount !== "function") throw new Error("the module exports no mount(host, ctx) function");
      const container = document.createElement("div");
      container.className = "plugin-page";
      container.dataset.plugin = entry.plugin;
      this.append(container);
      const result: unknown = await mount(container, context(entry));
      if (generation !== this.generation) {
        if (typeof result === "function") result();
        return;
      }
      this.unmount = typeof result === "function" ? (result as Unmount) : null;
      this.phase = { kind: "mounted" };
    } catch (error) {
      if (generation !== this.generation) return;
      this.replaceChildren();
      this.phase = { kind: "failed", message: error instanceof Error ? error.message : String(error) };
    }
  }
}
