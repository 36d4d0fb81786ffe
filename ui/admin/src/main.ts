import { adminSiteSession, startShell } from "@peek/shell";

import { pluginsPage } from "./plugins-page.js";

startShell(
  { app: "admin", title: "Peek Admin", layout: "side", fixedUsername: "admin", platformPages: [pluginsPage()] },
  adminSiteSession(),
);
