"""The HTTP service: FastAPI over the library. Build it with :func:`assistant.api.app.create_app`."""
