/**
 * What the client keeps across reloads and outages: the last data frame of
 * every observed selector (served while offline) and the actions made while
 * offline (sent once, in order, after reconnecting). IndexedDB through `idb`
 * in browsers; {@link MemoryStore} where there is no IndexedDB.
 *
 * Entries belong to the user that made them (null: anonymous): a cached value
 * is served and a queued action sent only to that same user.
 */

import { openDB, type DBSchema, type IDBPDatabase } from "idb";

/** An action waiting to be sent: its frame is sent as is (same id, same bytes). */
export interface QueuedAction {
  readonly id: string;
  readonly user: string | null;
  readonly frame: Uint8Array;
  /** Seconds to wait for the answer once sent. */
  readonly timeout: number;
}

/** Storage of the offline cache and the action queue. */
export interface VortexStore {
  cached(user: string | null, sid: string): Promise<Uint8Array | undefined>;
  cache(user: string | null, sid: string, frame: Uint8Array): Promise<void>;
  enqueue(action: QueuedAction): Promise<void>;
  /** The queued actions of `user`, oldest first. */
  queued(user: string | null): Promise<QueuedAction[]>;
  dequeue(id: string): Promise<void>;
  /** The user the last session belonged to (to serve the cache offline after a reload). */
  lastUser(): Promise<string | null | undefined>;
  setLastUser(user: string | null): Promise<void>;
  /** Drop everything of `user` (on logout). */
  forget(user: string | null): Promise<void>;
  close(): void;
}

const userKey = (user: string | null): string => (user === null ? "" : `u:${user}`);

interface Schema extends DBSchema {
  cache: { key: [string, string]; value: { user: string; sid: string; frame: Uint8Array; at: number } };
  outbox: {
    key: number;
    value: { seq?: number; id: string; user: string; frame: Uint8Array; timeout: number };
    indexes: { id: string; user: string };
  };
  meta: { key: string; value: { user: string | null } };
}

const VERSION = 1;

/** The store in IndexedDB database `name` (one per application and origin). */
export class IndexedDbStore implements VortexStore {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  static async open(name: string): Promise<IndexedDbStore> {
    const db = await openDB<Schema>(name, VERSION, {
      upgrade(database) {
        database.createObjectStore("cache", { keyPath: ["user", "sid"] });
        const outbox = database.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        outbox.createIndex("id", "id", { unique: true });
        outbox.createIndex("user", "user");
        database.createObjectStore("meta");
      },
    });
    return new IndexedDbStore(db);
  }

  async cached(user: string | null, sid: string): Promise<Uint8Array | undefined> {
    return (await this.db.get("cache", [userKey(user), sid]))?.frame;
  }

  async cache(user: string | null, sid: string, frame: Uint8Array): Promise<void> {
    await this.db.put("cache", { user: userKey(user), sid, frame, at: Date.now() });
  }

  async enqueue(action: QueuedAction): Promise<void> {
    await this.db.add("outbox", {
      id: action.id,
      user: userKey(action.user),
      frame: action.frame,
      timeout: action.timeout,
    });
  }

  async queued(user: string | null): Promise<QueuedAction[]> {
    // The index returns entries in key (= insertion) order within one user.
    const rows = await this.db.getAllFromIndex("outbox", "user", userKey(user));
    return rows.map((row) => ({ id: row.id, user, frame: row.frame, timeout: row.timeout }));
  }

  async dequeue(id: string): Promise<void> {
    const tx = this.db.transaction("outbox", "readwrite");
    const key = await tx.store.index("id").getKey(id);
    if (key !== undefined) await tx.store.delete(key);
    await tx.done;
  }

  async lastUser(): Promise<string | null | undefined> {
    return (await this.db.get("meta", "session"))?.user;
  }

  async setLastUser(user: string | null): Promise<void> {
    await this.db.put("meta", { user }, "session");
  }

  async forget(user: string | null): Promise<void> {
    const key = userKey(user);
    const tx = this.db.transaction(["cache", "outbox"], "readwrite");
    const cache = tx.objectStore("cache");
    for (let cursor = await cache.openCursor(); cursor; cursor = await cursor.continue()) {
      if (cursor.value.user === key) await cursor.delete();
    }
    const outbox = tx.objectStore("outbox");
    for (const seq of await outbox.index("user").getAllKeys(key)) await outbox.delete(seq);
    await tx.done;
  }

  close(): void {
    this.db.close();
  }
}

/** The same in memory: lost on reload. For environments without IndexedDB. */
export class MemoryStore implements VortexStore {
  private readonly frames = new Map<string, Uint8Array>();
  private outbox: QueuedAction[] = [];
  private user: string | null | undefined = undefined;

  cached(user: string | null, sid: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.frames.get(`${userKey(user)}\x1e${sid}`));
  }

  cache(user: string | null, sid: string, frame: Uint8Array): Promise<void> {
    this.frames.set(`${userKey(user)}\x1e${sid}`, frame);
    return Promise.resolve();
  }

  enqueue(action: QueuedAction): Promise<void> {
    this.outbox.push(action);
    return Promise.resolve();
  }

  queued(user: string | null): Promise<QueuedAction[]> {
    return Promise.resolve(this.outbox.filter((action) => action.user === user));
  }

  dequeue(id: string): Promise<void> {
    this.outbox = this.outbox.filter((action) => action.id !== id);
    return Promise.resolve();
  }

  lastUser(): Promise<string | null | undefined> {
    return Promise.resolve(this.user);
  }

  setLastUser(user: string | null): Promise<void> {
    this.user = user;
    return Promise.resolve();
  }

  forget(user: string | null): Promise<void> {
    const prefix = `${userKey(user)}\x1e`;
    for (const key of [...this.frames.keys()]) if (key.startsWith(prefix)) this.frames.delete(key);
    this.outbox = this.outbox.filter((action) => action.user !== user);
    return Promise.resolve();
  }

  close(): void {}
}
