/** noop's page in the desktop app: the shared counter panel. */
import { defineElement, type PageContext } from "@peek/plugin-sdk";

import { Bump, Counter, CounterPanel } from "../shared-app/counter.js";

export const tuples = [Counter, Bump];

export function mount(host: HTMLElement, ctx: PageContext): () => void {
  const heading = document.createElement("h1");
  heading.textContent = "No-op";
  heading.style.cssText = "font-size:1.5rem;margin:0 0 1rem";
  const panel = document.createElement(defineElement("noop-counter-panel", CounterPanel)) as CounterPanel;
  panel.ctx = ctx;
  panel.toggleAttribute("compact", false);
  host.replaceChildren(heading, panel);
  return () => host.replaceChildren();
}
