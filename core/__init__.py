"""What the apps share and none owns.

The job runner (jobs.py over queue.py), the per-user cache (usercache.py),
paging, rate-limit answers, request parameters and body limits, the outage
answers, the session store, the websocket consumer and its routes
(consumers.py, routing.py, origin.py), the Supabase storage backend, and
the home, health and CSRF-failure pages.
"""
