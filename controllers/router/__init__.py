"""The router: an HTTP reverse proxy in the manner of Fabio, routing by `urlprefix-` tags of
healthy service instances found in the catalog."""

from controllers.router.limits import Limits
from controllers.router.service import Router

__all__ = ["Limits", "Router"]
