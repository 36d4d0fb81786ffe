import { registerServiceWorker, startShell, userSiteSession } from "@peek/shell";

startShell({ app: "mobile", title: "Peek Mobile", layout: "bottom" }, userSiteSession());
registerServiceWorker("/mobile/");
