/** The user plugin's UI API (see ui-api/index.d.ts, published as `[ui] api`). */
import type { UserLike, UserUiApi } from "../../../ui-api/index.js";

export function displayName(user: UserLike | null): string {
  if (user === null) return "nobody";
  return user.displayName?.trim() || user.username;
}

export function initials(user: UserLike | null): string {
  const words = displayName(user).split(/[\s._-]+/).filter(Boolean);
  return words
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
}

export function userChip(user: UserLike | null): HTMLElement {
  const chip = document.createElement("span");
  chip.className = "peek-user-chip";
  chip.style.cssText = "display:inline-flex;align-items:center;gap:.45rem;font-weight:550";
  const avatar = document.createElement("span");
  avatar.textContent = initials(user);
  avatar.style.cssText =
    "display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:50%;background:#16324f;color:#fff;font-size:.8rem";
  const name = document.createElement("span");
  name.textContent = displayName(user);
  chip.append(avatar, name);
  return chip;
}

const api: UserUiApi = { displayName, initials, userChip };
export default api;
