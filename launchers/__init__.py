"""Process launchers: `python -m launchers.workers GROUP` and `python -m launchers.flower`.

Each checks or derives what its process needs from the settings (a worker group's queues,
processes and prefetch; Flower's credentials) and then replaces itself with that process. They
live apart from `chatplatform/`, which holds configuration only.
"""
