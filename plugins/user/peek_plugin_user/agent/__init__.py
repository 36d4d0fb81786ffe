"""user does not run on the agent: an agent that needs users asks its server-side plugin."""
