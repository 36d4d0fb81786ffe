"""Assembling Peek processes: the server, client, agent and worker services,
and the ``peek run`` supervisor that runs all four on one host."""
