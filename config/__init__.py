"""The ground floor: the city's data file, the process's runtime settings and the Redis URL.

Nothing here imports redis or panoramisk, so the pure parts above it (the IVR's menu, the
desk-state table) load and test without them.
"""
