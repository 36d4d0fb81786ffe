/**
 * noop's counter page, the same in every app: each app's entry (admin-app, desktop-app,
 * mobile-app/counter-page.ts) calls {@link counterPage} with only what differs there.
 */
import type { ActiveTaskUiApi } from "@peek/active_task";
import type { PageContext } from "@peek/plugin-sdk";

import { Bump, Counter, counterPanel } from "./counter.js";

export const tuples = [Counter, Bump];

export interface CounterPageOptions {
  /** The page's heading. */
  readonly heading: string;
  /** Full width with a large button, for phones. */
  readonly compact: boolean;
  /** Below the counter, the user's tasks from active_task's UI API where active_task is installed. */
  readonly tasks?: boolean;
}

/** The page's `mount` for one app. */
export function counterPage(options: CounterPageOptions): (host: HTMLElement, ctx: PageContext) => () => void {
  return (host, ctx) => {
    const heading = document.createElement("h1");
    heading.textContent = options.heading;
    heading.style.cssText = "font-size:1.5rem;margin:0 0 1rem";
    const panel = counterPanel(ctx, { compact: options.compact });
    host.replaceChildren(heading, panel);
    if (options.tasks) void showTasks(host, ctx, panel);
    return () => host.replaceChildren();
  };
}

async function showTasks(host: HTMLElement, ctx: PageContext, panel: HTMLElement): Promise<void> {
  let tasks: ActiveTaskUiApi;
  try {
    tasks = await ctx.uiApi<ActiveTaskUiApi>("active_task");
  } catch {
    return; // active_task is not installed (noop does not require it): the page is the counter alone
  }
  if (!panel.isConnected) return; // the page went away meanwhile
  const section = document.createElement("section");
  section.dataset.testid = "noop-tasks";
  section.style.cssText = "margin-top:1.5rem;max-width:30rem";
  const title = document.createElement("h2");
  title.textContent = "Your tasks";
  title.style.cssText = "font-size:1.2rem;margin:0 0 0.5rem";
  section.append(title, tasks.taskList(ctx));
  host.append(section);
}
