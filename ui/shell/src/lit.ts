// The one copy of Lit that the shell and every plugin module share: the app's
// import map points the bare specifier "lit" here, and plugin builds keep it external.
export * from "lit";
