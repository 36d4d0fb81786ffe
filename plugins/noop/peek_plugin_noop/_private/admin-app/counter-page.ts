/** noop's page in the admin app: the shared counter page. */
import { counterPage } from "../shared-app/counter-page.js";

export { tuples } from "../shared-app/counter-page.js";
export const mount = counterPage({ heading: "No-op (admin)", compact: false });
