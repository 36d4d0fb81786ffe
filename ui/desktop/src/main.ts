import { registerServiceWorker, startShell, userSiteSession } from "@peek/shell";

startShell({ app: "desktop", title: "Peek", layout: "side" }, userSiteSession());
registerServiceWorker("/");
