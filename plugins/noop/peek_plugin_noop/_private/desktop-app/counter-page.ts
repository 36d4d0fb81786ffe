/** noop's page in the desktop app: the shared counter page, and the user's tasks (active_task has no desktop page). */
import { counterPage } from "../shared-app/counter-page.js";

export { tuples } from "../shared-app/counter-page.js";
export const mount = counterPage({ heading: "No-op", compact: false, tasks: true });
