import { css } from "lit";

export const shellStyles = css`
  :host {
    display: block; min-height: 100vh; color: #1d2430; background: #f4f6f9;
    font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  }
  * { box-sizing: border-box; }
  button { font: inherit; }
  .icon { width: 22px; height: 22px; flex: none; }
  .topbar {
    display: flex; align-items: center; gap: 0.75rem; padding: 0 1rem; height: 56px;
    background: #16324f; color: #fff; position: sticky; top: 0; z-index: 2;
  }
  .brand { font-weight: 650; letter-spacing: 0.01em; margin-right: auto; white-space: nowrap; }
  .user { opacity: 0.9; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .logout {
    background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.5);
    border-radius: 8px; padding: 0.35rem 0.8rem; cursor: pointer; min-height: 36px;
  }
  .conn {
    display: inline-flex; align-items: center; gap: 0.4rem; font-size: 0.85rem;
    padding: 0.2rem 0.65rem; border-radius: 999px; background: rgba(255,255,255,.12); white-space: nowrap;
  }
  .conn::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: currentColor; }
  .conn[data-state="online"] { color: #7ee2a8; }
  .conn[data-state="reconnecting"] { color: #ffd166; }
  .conn[data-state="offline"] { color: #ff8a80; }
  .conn span { color: #fff; }
  .nav a {
    display: flex; align-items: center; gap: 0.6rem; color: inherit; text-decoration: none;
  }
  .content { padding: 1.25rem; min-width: 0; }
  .banner {
    margin: 0 0 1rem; padding: 0.6rem 0.9rem; border-radius: 8px; background: #fff4d6; color: #6b4e00;
  }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; }
  .tiles { display: grid; gap: 0.75rem; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); }
  .tile {
    display: flex; gap: 0.75rem; align-items: center; padding: 1rem; border-radius: 12px;
    background: #fff; border: 1px solid #dde3ea; color: inherit; text-decoration: none; min-height: 64px;
  }
  .tile small { display: block; color: #5b6472; }
  .empty { color: #5b6472; }

  /* desktop and admin: a side navigation beside the page */
  .layout-side { display: grid; grid-template-columns: 15rem 1fr; min-height: calc(100vh - 56px); }
  .layout-side .nav { background: #fff; border-right: 1px solid #dde3ea; padding: 0.75rem 0.5rem; }
  .layout-side .nav a { padding: 0.55rem 0.75rem; border-radius: 8px; margin-bottom: 2px; }
  .layout-side .nav a:hover { background: #eef2f7; }
  .layout-side .nav a[aria-current="page"] { background: #e1ecf8; color: #0f4c8a; font-weight: 600; }

  /* mobile: one column, touch-sized bottom navigation */
  .layout-bottom .content { padding: 1rem 0.9rem calc(76px + env(safe-area-inset-bottom)); }
  .layout-bottom .nav {
    position: fixed; bottom: 0; left: 0; right: 0; z-index: 2; display: flex; overflow-x: auto;
    background: #fff; border-top: 1px solid #dde3ea; padding-bottom: env(safe-area-inset-bottom);
  }
  .layout-bottom .nav a {
    flex: 1 0 4.5rem; flex-direction: column; justify-content: center; gap: 0.15rem;
    min-height: 64px; font-size: 0.75rem; color: #5b6472; padding: 0.4rem 0.25rem; text-align: center;
  }
  .layout-bottom .nav a[aria-current="page"] { color: #0f4c8a; font-weight: 600; }
  .layout-bottom .tiles { grid-template-columns: 1fr; }
  .shell-bottom .topbar { gap: 0.5rem; padding: 0 0.75rem; }
  .shell-bottom .brand { font-size: 1rem; }
  .shell-bottom .user { display: none; }
  .logout { white-space: nowrap; }

  .login { max-width: 24rem; margin: 12vh auto 0; padding: 0 1rem; }
  .login form {
    background: #fff; border: 1px solid #dde3ea; border-radius: 14px; padding: 1.5rem;
    display: grid; gap: 0.9rem;
  }
  .login h1 { margin: 0; }
  .login label { display: grid; gap: 0.3rem; font-weight: 550; }
  .login input {
    font: inherit; padding: 0.65rem 0.75rem; border: 1px solid #b9c3cf; border-radius: 8px; min-height: 48px;
  }
  .login button[type="submit"] {
    background: #16324f; color: #fff; border: 0; border-radius: 8px; padding: 0.75rem; min-height: 48px;
    cursor: pointer; font-weight: 600;
  }
  .login .problem { color: #a12a1f; margin: 0; }
`;
