"""What the apps share and own none of: the queue-job rules (queue.py)."""
