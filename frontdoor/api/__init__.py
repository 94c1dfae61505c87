"""The HTTP API: public reporting routes and the analyst routes."""
