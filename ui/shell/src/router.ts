/** Hash routes: `#/` is the home page, `#/<route>/<subpath>` a plugin page. */
export interface Location {
  readonly route: string;
  readonly subpath: string;
}

export function parseHash(hash: string): Location {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "");
  const slash = path.indexOf("/");
  if (slash < 0) return { route: decodeURIComponent(path), subpath: "" };
  return { route: decodeURIComponent(path.slice(0, slash)), subpath: path.slice(slash + 1) };
}

export function hashFor(route: string, subpath = ""): string {
  const base = `#/${encodeURIComponent(route)}`;
  return subpath ? `${base}/${subpath}` : base;
}
