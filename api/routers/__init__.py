"""One router per feature of the API, each over its service (``api/services/``); ``create_app``
includes them all."""
