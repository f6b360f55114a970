"""Errors the control plane raises; the REST API maps each class to one HTTP status."""

from __future__ import annotations


class ControlError(Exception):
    """Base class. ``title`` is the short, stable problem title used in Problem JSON."""

    status = 500
    title = "Internal error"


class InvalidRequest(ControlError):
    status = 422
    title = "Invalid request"


class NotFound(ControlError):
    status = 404
    title = "Not found"


class Conflict(ControlError):
    status = 409
    title = "Conflict"


class Unavailable(ControlError):
    status = 503
    title = "Unavailable"
