/**
 * noop's counter panel, shared by its desktop, mobile and admin pages and its UI API:
 * it watches the server's `noop.Counter` (live) and sends `noop.Bump` actions.
 */
import { defineTuple, type TupleOf } from "@peek/vortex";
import { defineElement, type PageVortex, type Unsubscribable } from "@peek/plugin-sdk";
import { LitElement, css, html, nothing } from "lit";

export const Counter = defineTuple("noop.Counter", { name: "str", value: "int", updated: "datetime" });
export const Bump = defineTuple("noop.Bump", { name: "str", by: "int" });
export type CounterValue = TupleOf<typeof Counter>;

/** Every page of noop shows this counter. */
export const COUNTER_NAME = "clicks";

export class CounterPanel extends LitElement {
  static override properties = {
    value: { state: true },
    updatedAt: { state: true },
    problem: { state: true },
    sending: { state: true },
  };

  static override styles = css`
    :host { display: block; }
    .card {
      background: #fff; border: 1px solid #dde3ea; border-radius: 14px; padding: 1.25rem 1.5rem; max-width: 30rem;
    }
    :host([compact]) .card { max-width: none; }
    h2 { margin: 0 0 0.25rem; font-size: 1.2rem; }
    .value { font-size: 3.5rem; font-weight: 700; line-height: 1.1; margin: 0.5rem 0; color: #16324f; }
    .meta { color: #5b6472; font-size: 0.9rem; margin: 0 0 1rem; }
    button {
      font: inherit; font-weight: 600; background: #16324f; color: #fff; border: 0; border-radius: 10px;
      padding: 0.7rem 1.4rem; min-height: 48px; cursor: pointer;
    }
    :host([compact]) button { width: 100%; min-height: 56px; }
    button[disabled] { opacity: 0.6; }
    .problem { color: #a12a1f; }
  `;

  ctx?: { readonly vortex: PageVortex };
  protected value: number | null = null;
  protected updatedAt: string | null = null;
  protected problem = "";
  protected sending = false;
  private subscription: Unsubscribable | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    this.subscription = this.ctx?.vortex.observe<CounterValue>("noop.Counter", { name: COUNTER_NAME }).subscribe({
      next: (tuples) => {
        const counter = tuples[0];
        if (counter === undefined) return;
        this.value = Number(counter.value);
        this.updatedAt = counter.updated.toDate().toLocaleTimeString();
        this.problem = "";
      },
      error: (error: unknown) => (this.problem = `cannot watch the counter: ${String(error)}`),
    }) ?? null;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  async bump(): Promise<void> {
    if (!this.ctx) return;
    this.sending = true;
    try {
      await this.ctx.vortex.action(Bump.make({ name: COUNTER_NAME, by: 1 }));
      this.problem = "";
    } catch (error) {
      this.problem = `the bump failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      this.sending = false;
    }
  }

  protected override render() {
    return html`<section class="card">
      <h2>Counter “${COUNTER_NAME}”</h2>
      <p class="meta">Live from the server's noop plugin, shared by everyone watching.</p>
      <div class="value" data-testid="noop-value">${this.value ?? "…"}</div>
      <p class="meta">${this.updatedAt ? `updated ${this.updatedAt}` : "waiting for the first value"}</p>
      <button data-testid="noop-bump" ?disabled=${this.sending || !this.ctx} @click=${() => void this.bump()}>
        Bump +1
      </button>
      ${this.problem ? html`<p class="problem" role="alert">${this.problem}</p>` : nothing}
    </section>`;
  }
}

/** A counter panel watching through `ctx` (the UI API's `counterPanel`). */
export function counterPanel(ctx: { readonly vortex: PageVortex }, options: { readonly compact?: boolean } = {}): CounterPanel {
  const panel = document.createElement(defineElement("noop-counter-panel", CounterPanel)) as CounterPanel;
  panel.ctx = ctx;
  panel.toggleAttribute("compact", options.compact ?? false);
  return panel;
}
