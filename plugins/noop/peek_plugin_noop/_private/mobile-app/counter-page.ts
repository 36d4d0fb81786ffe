/** noop's page in the mobile app: the shared counter page, full width. */
import { counterPage } from "../shared-app/counter-page.js";

export { tuples } from "../shared-app/counter-page.js";
export const mount = counterPage({ heading: "No-op", compact: true });
