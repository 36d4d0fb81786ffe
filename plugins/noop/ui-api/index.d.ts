/**
 * `@peek/noop`: the UI API noop publishes to other plugins' pages, and its tuples.
 *
 * ```ts
 * import type { NoopUiApi } from "@peek/noop";
 * const noop = await ctx.uiApi<NoopUiApi>("noop");
 * host.append(noop.counterPanel(ctx, { compact: true }));   // the live counter and its Bump button
 * ```
 *
 * The shell loads the module (`[ui] api` in noop's plugin.toml) on first use and registers
 * its tuples. `ctx.uiApi` rejects where noop is not installed: declare it in your plugin's
 * `[requires]`, or let your page work without it.
 */
import type { PageVortex } from "@peek/plugin-sdk";

export interface NoopCounter {
  readonly _t: "noop.Counter";
  readonly name: string;
  readonly value: number | bigint;
  readonly updated: { toDate(): Date };
}

export interface CounterPanelOptions {
  /** Full width with a large button, for phones. Default false. */
  readonly compact?: boolean;
}

export interface NoopUiApi {
  /** The name of the counter noop's pages show and bump. */
  readonly counterName: string;
  /**
   * An element showing noop's counter live, with a button that bumps it by one.
   * Remove it from the page to stop watching.
   */
  counterPanel(ctx: { readonly vortex: PageVortex }, options?: CounterPanelOptions): HTMLElement;
}
