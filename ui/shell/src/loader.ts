/**
 * Loading plugin modules by URL with their integrity hash.
 *
 * `import()` takes no integrity, so a module is first fetched as a
 * `<link rel="modulepreload" integrity=...>`: the browser checks the hash and
 * puts the module in its module map, and the `import()` that follows uses
 * exactly that entry. A module whose bytes do not match is never evaluated.
 */
export type Preload = (url: string, integrity: string) => Promise<void>;
export type Importer = (url: string) => Promise<Record<string, unknown>>;

export class ModuleLoadError extends Error {
  constructor(
    readonly url: string | null,
    message: string,
  ) {
    super(message);
    this.name = "ModuleLoadError";
  }
}

export function domPreload(url: string, integrity: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.integrity = integrity;
    link.href = url;
    link.onload = () => resolve();
    link.onerror = () =>
      reject(new ModuleLoadError(url, "the module could not be fetched, or its content does not match its integrity hash"));
    document.head.append(link);
  });
}

const dynamicImport: Importer = (url) => import(/* @vite-ignore */ url) as Promise<Record<string, unknown>>;

export class ModuleLoader {
  private readonly loaded = new Map<string, Promise<Record<string, unknown>>>();

  constructor(
    private readonly preload: Preload = domPreload,
    private readonly importer: Importer = dynamicImport,
  ) {}

  /** The module's namespace; each URL is fetched and evaluated once (failures are retried). */
  load(url: string | null, integrity: string | null, problem: string | null = null): Promise<Record<string, unknown>> {
    if (url === null || integrity === null) {
      return Promise.reject(new ModuleLoadError(url, problem ?? "the platform cannot serve this module"));
    }
    let found = this.loaded.get(url);
    if (found === undefined) {
      found = this.preload(url, integrity).then(() => this.importer(url));
      this.loaded.set(url, found);
      found.catch(() => this.loaded.delete(url));
    }
    return found;
  }
}
