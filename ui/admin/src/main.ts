import { adminSiteSession, startShell } from "@peek/shell";

startShell({ app: "admin", title: "Peek Admin", layout: "side", fixedUsername: "admin" }, adminSiteSession());
