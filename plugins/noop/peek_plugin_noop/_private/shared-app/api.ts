/** noop's UI API (see ui-api/index.d.ts, published as `[ui] api`). */
import type { NoopUiApi } from "../../../ui-api/index.js";
import { Bump, COUNTER_NAME, Counter, counterPanel } from "./counter.js";

/** The shell registers these with the vortex client when it loads this module. */
export const tuples = [Counter, Bump];

const api: NoopUiApi = { counterName: COUNTER_NAME, counterPanel };
export default api;
