"""`metagpt serve`: watch, start, stop, resume and change runs from a browser.

The server reads each project's journal and files (as `metagpt logs` and the report do) and
starts runs only as CLI child processes (`runs`), so a run never shares the server's process.
Needs the `web` extra (`pip install "metagpt[web]"`).
"""
