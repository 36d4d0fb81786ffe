function i(e) {
  return e === null ? "nobody" : e.displayName?.trim() || e.username;
}
function s(e) {
  return i(e).split(/[\s._-]+/).filter(Boolean).slice(0, 2).map((n) => n[0]?.toUpperCase() ?? "").join("");
}
function r(e) {
  const t = document.createElement("span");
  t.className = "peek-user-chip", t.style.cssText = "display:inline-flex;align-items:center;gap:.45rem;font-weight:550";
  const n = document.createElement("span");
  n.textContent = s(e), n.style.cssText = "display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:50%;background:#16324f;color:#fff;font-size:.8rem";
  const a = document.createElement("span");
  return a.textContent = i(e), t.append(n, a), t;
}
const o = { displayName: i, initials: s, userChip: r };
export {
  o as default,
  i as displayName,
  s as initials,
  r as userChip
};
