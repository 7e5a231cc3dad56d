"""What each feature of the API does, over Redis; the routers (``api/routers/``) translate HTTP.

A service knows nothing of tokens or status codes: Redis errors and refusals propagate to the
app's handlers (``api/errors.py``)."""
