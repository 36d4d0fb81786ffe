/**
 * `@peek/user`: the UI API the user plugin publishes to other plugins' pages.
 *
 * ```ts
 * import type { UserUiApi } from "@peek/user";
 * const users = await ctx.uiApi<UserUiApi>("user");
 * header.append(users.userChip(ctx.user));
 * ```
 *
 * Declare `user` in your plugin's `[requires]`; the shell loads the module
 * (`[ui] api` in user's plugin.toml) on first use.
 */
export interface UserLike {
  readonly username: string;
  readonly displayName?: string;
}

export interface UserUiApi {
  /** How to name a user to people: the display name, else the username. */
  displayName(user: UserLike | null): string;
  /** Initials for an avatar: "Alice Smith" -> "AS", "bob" -> "B". */
  initials(user: UserLike | null): string;
  /** A small inline element: an avatar circle with initials and the name. */
  userChip(user: UserLike | null): HTMLElement;
}
