"""active_task does not run on the agent: agents create tasks through their server-side plugin."""
